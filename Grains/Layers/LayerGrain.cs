using System.Net;
using Mirror.Grains.Storage;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Layers;

/// <summary>
/// The layer grain as hosted by a silo (or in-process in embedded mode): store first, then the running fetch, then a
/// new fetch. Every answer through a repository other than the one that fetched it is checked with <see cref="RepositoryAccess"/>.
/// </summary>
public sealed class LayerGrain(Digest digest, IBlobStore store, FetchTable fetches, RepositoryAccess access,
    UpstreamRegistries upstreams, MirrorMetrics metrics) : ILayerGrain
{
    /// <inheritdoc />
    public async Task<BlobInfo?> StatOrNullAsync(RepositoryRef source, CancellationToken cancellationToken)
    {
        if (await store.GetSizeOrNullAsync(digest, cancellationToken) is { } size)
        {
            await access.EnsureAsync(source, digest, isManifest: false, cancellationToken);
            return new BlobInfo(digest, size);
        }
        if (fetches.FindOrNull(digest) is { Started.IsCompletedSuccessfully: true } running && running.Started.Result is { } info)
        {
            if (running.Source != source) await access.EnsureAsync(source, digest, isManifest: false, cancellationToken);
            return info;
        }
        var upstream = upstreams.Get(source.Registry);
        metrics.Add("mirror_upstream_requests_total", $"{MirrorMetrics.Label("registry", source.Registry)},kind=\"blob_head\"");
        using var response = await upstream.SendAsync(HttpMethod.Head, source.Repository, $"blobs/{digest}", null, null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        if (!response.IsSuccessStatusCode) throw await UpstreamRegistry.ToErrorAsync(response, ErrorCode.BlobUnknown, cancellationToken);
        access.Grant(source, digest);
        return response.Content.Headers.ContentLength is { } length
            ? new BlobInfo(digest, length)
            : throw new RegistryException(ErrorCode.BadGateway, "upstream HEAD without Content-Length");
    }

    /// <inheritdoc />
    public async Task<BlobRead?> OpenReadOrNullAsync(RepositoryRef source, long offset, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (await OpenStoredOrNullAsync(source, offset, cancellationToken) is { } stored) return stored;

            var fetch = await fetches.GetOrStartAsync(digest, source, cancellationToken);
            if (fetch is null) continue; // committed meanwhile: read the store
            var info = await fetch.Started.WaitAsync(cancellationToken);
            if (info is null) return null;
            if (fetch.Source != source) await access.EnsureAsync(source, digest, isManifest: false, cancellationToken);
            else access.Grant(source, digest);
            try
            {
                var reader = fetch.OpenReader(offset);
                metrics.Add("mirror_blob_requests_total", "source=\"upstream\"");
                return new BlobRead(info, offset, reader);
            }
            catch (IOException) when (fetch.State == FetchState.Committed)
            {
                // Finished between the lookup and the open: the store has it now.
            }
            catch (IOException e) when (fetch.State == FetchState.Failed)
            {
                // Failed before this request could follow it; nothing was sent, so say so instead of faulting.
                throw new RegistryException(ErrorCode.BadGateway, $"upstream fetch of {digest} failed: {e.Message}", inner: e);
            }
        }
        throw new RegistryException(ErrorCode.Unavailable, $"could not open {digest}");
    }

    private async Task<BlobRead?> OpenStoredOrNullAsync(RepositoryRef source, long offset, CancellationToken cancellationToken)
    {
        var stored = await store.OpenReadOrNullAsync(digest, offset, cancellationToken);
        if (stored is null) return null;
        try
        {
            await access.EnsureAsync(source, digest, isManifest: false, cancellationToken);
        }
        catch
        {
            await stored.Content.DisposeAsync();
            throw;
        }
        metrics.Add("mirror_blob_requests_total", "source=\"cache\"");
        return new BlobRead(new BlobInfo(digest, stored.Length), offset, stored.Content);
    }
}
