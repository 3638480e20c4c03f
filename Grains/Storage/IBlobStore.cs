namespace Mirror.Grains.Storage;

/// <summary>
/// Where verified blobs live, addressed by digest. Content becomes readable only after
/// <see cref="IBlobWriter.CommitAsync"/>; a writer disposed without commit leaves nothing behind.
/// </summary>
public interface IBlobStore
{
    /// <summary>Opens a committed blob at <paramref name="offset"/>, or null when it is not stored.</summary>
    Task<StoredBlob?> OpenReadOrNullAsync(Digest digest, long offset, CancellationToken cancellationToken);

    /// <summary>The committed blob's size, or null when it is not stored.</summary>
    Task<long?> GetSizeOrNullAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>Starts writing <paramref name="digest"/>. The caller verifies the bytes; the store only commits what it is told is verified.</summary>
    Task<IBlobWriter> BeginWriteAsync(Digest digest, long expectedLength, CancellationToken cancellationToken);

    /// <summary>A time-limited URL a client may fetch the blob from directly, or null when the store has none.</summary>
    Task<Uri?> GetDownloadUrlOrNullAsync(Digest digest, TimeSpan lifetime, CancellationToken cancellationToken);

    /// <summary>Deletes a committed blob; returns false when there was none.</summary>
    Task<bool> DeleteAsync(Digest digest, CancellationToken cancellationToken);
}

/// <summary>A committed blob opened for reading.</summary>
/// <param name="Length">The blob's total size.</param>
/// <param name="Content">The bytes from the requested offset to the end.</param>
/// <param name="LocalPath">The file's path when the store is a local filesystem (lets the server use sendfile).</param>
public sealed record StoredBlob(long Length, Stream Content, string? LocalPath);

/// <summary>An uncommitted blob being written.</summary>
public interface IBlobWriter : IAsyncDisposable
{
    /// <summary>
    /// A local file the caller fills itself and that the store adopts on commit (the filesystem store's temp file),
    /// or null when bytes must be handed over through <see cref="WriteAsync"/>.
    /// </summary>
    string? AdoptableSpoolPath { get; }

    /// <summary>Appends bytes (only when <see cref="AdoptableSpoolPath"/> is null).</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Makes the content readable under its digest. Call only after its digest and size were verified.</summary>
    Task CommitAsync(long verifiedLength, CancellationToken cancellationToken);
}
