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

    /// <summary>
    /// Starts writing <paramref name="digest"/> from <paramref name="spoolPath"/>, a local file the caller fills and
    /// reports progress on. The caller verifies the bytes; the store only commits what it is told is verified.
    /// </summary>
    Task<IBlobWriter> BeginWriteAsync(Digest digest, long expectedLength, string spoolPath, CancellationToken cancellationToken);

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

/// <summary>An uncommitted blob being written from a spool file. Disposing it without commit discards it.</summary>
public interface IBlobWriter : IAsyncDisposable
{
    /// <summary>
    /// Tells the writer the spool now holds <paramref name="length"/> bytes; a remote store may upload completed parts
    /// straight from the file. May apply back-pressure by completing late.
    /// </summary>
    ValueTask OnSpoolAdvancedAsync(long length, CancellationToken cancellationToken);

    /// <summary>
    /// Makes the content readable under its digest. Call only after its digest and size were verified. The spool file
    /// may be moved by this call (the filesystem store adopts it); the caller must not reuse the path afterwards.
    /// </summary>
    Task CommitAsync(long verifiedLength, CancellationToken cancellationToken);
}
