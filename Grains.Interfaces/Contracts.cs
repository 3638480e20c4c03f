namespace Mirror.Grains;

/// <summary>The size and identity of a blob, known before its bytes are read.</summary>
/// <param name="Digest">The blob's digest.</param>
/// <param name="Length">Total size in bytes.</param>
public sealed record BlobInfo(Digest Digest, long Length);

/// <summary>
/// An open read of a blob from an offset. The stream yields <c>Length - Offset</c> bytes and then ends; if the
/// bytes cannot all be delivered (upstream broke, digest mismatch) reading throws instead of ending early.
/// </summary>
public sealed class BlobRead(BlobInfo info, long offset, Stream content) : IAsyncDisposable
{
    /// <summary>The blob's digest and total size.</summary>
    public BlobInfo Info { get; } = info;

    /// <summary>The offset the stream starts at.</summary>
    public long Offset { get; } = offset;

    /// <summary>The bytes from <see cref="Offset"/> to the end.</summary>
    public Stream Content { get; } = content;

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Content.DisposeAsync();
}

/// <summary>A manifest's bytes with its media type and digest. Manifests are small (bounded) and kept in memory.</summary>
public sealed record ManifestContent(Digest Digest, string MediaType, ReadOnlyMemory<byte> Bytes);

/// <summary>
/// The single owner of one blob digest in the whole cluster: exactly one upstream fetch, verified, teed into the
/// blob store, and readable by any number of callers from any offset while it is still arriving.
/// </summary>
/// <remarks>Key: the digest. <paramref name="source"/> names the repository the caller asked through; the grain
/// fetches through it on a miss, so the upstream decides access for that repository.</remarks>
public interface ILayerGrain
{
    /// <summary>The blob's size without reading it: from the store, the in-flight fetch, or an upstream HEAD. Null when unknown upstream.</summary>
    Task<BlobInfo?> StatOrNullAsync(RepositoryRef source, CancellationToken cancellationToken);

    /// <summary>Opens the blob from <paramref name="offset"/>; starts the one upstream fetch on a miss. Null when unknown upstream.</summary>
    Task<BlobRead?> OpenReadOrNullAsync(RepositoryRef source, long offset, CancellationToken cancellationToken);
}

/// <summary>
/// The cache of one manifest reference (<c>registry/repository:tag</c> or <c>@digest</c>). Tags are cached with a TTL
/// and revalidated with HEAD; the last good answer is served while the upstream is down. Digests are immutable.
/// </summary>
public interface IManifestGrain
{
    /// <summary>
    /// The manifest, asked of the upstream with all four modern media types. Null when the upstream says it is unknown.
    /// </summary>
    Task<ManifestContent?> GetOrNullAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The manifest as the upstream answers a client with this exact <paramref name="accept"/> list (for clients that
    /// exclude the type the cache holds). Cached by digest, never as the tag's answer.
    /// </summary>
    Task<ManifestContent?> GetForAcceptOrNullAsync(IReadOnlyList<string> accept, CancellationToken cancellationToken);
}

/// <summary>Operations on a whole repository that are passed through to its upstream.</summary>
public interface IRepositoryGrain
{
    /// <summary>The upstream's <c>tags/list</c> JSON for this repository, paged with <c>n</c>/<c>last</c>, plus its Link header.</summary>
    Task<TagList?> ListTagsOrNullAsync(int? n, string? last, CancellationToken cancellationToken);
}

/// <summary>A tags/list page as the upstream answered it.</summary>
public sealed record TagList(ReadOnlyMemory<byte> Json, string? Link);

/// <summary>Finds the grain for a key; in embedded mode in-process, in a cluster on the silo that holds the lease.</summary>
public interface IGrainFactory
{
    /// <summary>The layer grain that owns <paramref name="digest"/>.</summary>
    ILayerGrain GetLayer(Digest digest);

    /// <summary>The manifest grain for <paramref name="reference"/>.</summary>
    IManifestGrain GetManifest(ManifestRef reference);

    /// <summary>The repository grain for <paramref name="repository"/>.</summary>
    IRepositoryGrain GetRepository(RepositoryRef repository);
}
