using Mirror.Grains;
using Mirror.Grains.Layers;
using Mirror.Grains.Storage;

namespace Mirror.Frontend.Cluster;

/// <summary>
/// CDN-origin mode (<c>Mirror:Storage:S3:RedirectBlobs</c>): a GET of a committed blob is answered with a 307 to a
/// presigned URL in the bucket, after the same access check as a streamed answer. Misses still stream.
/// </summary>
public sealed class BlobRedirector(IBlobStore store, RepositoryAccess access)
{
    /// <summary>How long a presigned URL stays valid: long enough for a slow pull of a large layer to start.</summary>
    private static readonly TimeSpan UrlLifetime = TimeSpan.FromMinutes(15);

    /// <summary>The presigned URL for a committed blob, or null when it is not committed (the caller streams instead).</summary>
    public async Task<Uri?> TryRedirectAsync(RepositoryRef repository, Digest digest, CancellationToken cancellationToken)
    {
        if (await store.GetSizeOrNullAsync(digest, cancellationToken) is null) return null;
        await access.EnsureAsync(repository, digest, isManifest: false, cancellationToken);
        return await store.GetDownloadUrlOrNullAsync(digest, UrlLifetime, cancellationToken);
    }
}
