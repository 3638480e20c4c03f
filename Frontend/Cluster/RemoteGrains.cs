using System.Net;
using System.Text.Json;
using Mirror.Grains;
using Mirror.Grains.Layers;
using Mirror.Grains.Manifests;
using Mirror.Grains.Storage;
using Mirror.Grains.Upstream;
using Mirror.Silo.Cluster;

namespace Mirror.Frontend.Cluster;

/// <summary>Grains as a frontend sees them in a cluster: hits straight from the shared store, misses through the owning silo.</summary>
public sealed class ClusterGrainFactory(SiloClient silos, IBlobStore store, RepositoryAccess access, UpstreamRegistries upstreams,
    MirrorMetrics metrics, ILogger<ClusterGrainFactory> logger) : IGrainFactory
{
    /// <inheritdoc />
    public ILayerGrain GetLayer(Digest digest) => new RemoteLayerGrain(digest, silos, store, access, metrics, logger);

    /// <inheritdoc />
    public IManifestGrain GetManifest(ManifestRef reference) => new RemoteManifestGrain(reference, silos, access);

    /// <inheritdoc />
    public IRepositoryGrain GetRepository(RepositoryRef repository) => new RepositoryGrain(repository, upstreams, metrics);
}

internal static class Query
{
    public static string Of(RepositoryRef r) => $"registry={Uri.EscapeDataString(r.Registry)}&repository={Uri.EscapeDataString(r.Repository)}";
}

/// <summary>A layer grain reached over the network.</summary>
internal sealed partial class RemoteLayerGrain(Digest digest, SiloClient silos, IBlobStore store, RepositoryAccess access, MirrorMetrics metrics,
    ILogger logger) : ILayerGrain
{
    private const int MaxResumes = 5;
    private Digest Digest => digest;
    private ILogger Logger => logger;
    private MirrorMetrics Metrics => metrics;

    private string Key => $"layer|{digest}";

    public async Task<BlobInfo?> StatOrNullAsync(RepositoryRef source, CancellationToken cancellationToken)
    {
        if (await store.GetSizeOrNullAsync(digest, cancellationToken) is { } size)
        {
            await access.EnsureAsync(source, digest, isManifest: false, cancellationToken);
            return new BlobInfo(digest, size);
        }
        using var response = await silos.GetAsync(Key, $"/internal/v1/layers/{digest}/stat?{Query.Of(source)}", null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        if (!response.IsSuccessStatusCode) throw await SiloClient.ToErrorAsync(response, cancellationToken);
        var stat = await response.Content.ReadFromJsonAsync<SiloEndpoints.LayerStat>(cancellationToken);
        access.Grant(source, digest);
        return new BlobInfo(digest, stat!.Length);
    }

    public async Task<BlobRead?> OpenReadOrNullAsync(RepositoryRef source, long offset, CancellationToken cancellationToken)
    {
        var opened = await OpenAtAsync(source, offset, cancellationToken);
        if (opened is null) return null;
        var (length, stream) = opened.Value;
        return new BlobRead(new BlobInfo(digest, length), offset, new ResumingStream(this, source, offset, length, stream));
    }

    /// <summary>The shared store first (a committed blob), else the owning silo, which streams while it fetches.</summary>
    private async Task<(long Length, Stream Content)?> OpenAtAsync(RepositoryRef source, long offset, CancellationToken ct)
    {
        if (await store.OpenReadOrNullAsync(digest, offset, ct) is { } stored)
        {
            try { await access.EnsureAsync(source, digest, isManifest: false, ct); }
            catch { await stored.Content.DisposeAsync(); throw; }
            metrics.Add("mirror_blob_requests_total", "source=\"store\"");
            return (stored.Length, stored.Content);
        }
        var response = await silos.GetAsync(Key, $"/internal/v1/layers/{digest}?{Query.Of(source)}&offset={offset}", null, ct);
        if (response.StatusCode == HttpStatusCode.NotFound) { response.Dispose(); return null; }
        if (!response.IsSuccessStatusCode)
        {
            using (response) throw await SiloClient.ToErrorAsync(response, ct);
        }
        if (!response.Headers.TryGetValues(SiloEndpoints.LengthHeader, out var values) || !long.TryParse(values.FirstOrDefault(), out var length))
        {
            response.Dispose();
            throw new RegistryException(ErrorCode.BadGateway, "silo answered without a blob length");
        }
        access.Grant(source, digest);
        metrics.Add("mirror_blob_requests_total", "source=\"silo\"");
        return (length, new ResponseStream(response, await response.Content.ReadAsStreamAsync(ct)));
    }

    /// <summary>
    /// Reads the blob and, when the source breaks (the owning silo died), reopens at the same offset: from the store if
    /// the blob was committed meanwhile, else from whichever silo now holds the lease. The client never notices.
    /// </summary>
    private sealed class ResumingStream(RemoteLayerGrain grain, RepositoryRef source, long from, long length, Stream first) : ReadOnlyStream
    {
        private readonly long _start = from;
        private Stream _current = first;
        private long _position = from;
        private int _resumes;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (true)
            {
                try
                {
                    var n = await _current.ReadAsync(buffer, cancellationToken);
                    if (n == 0 && _position < length) throw new IOException($"source ended at {_position} of {length}");
                    _position += n;
                    return n;
                }
                catch (Exception e) when ((e is IOException or HttpRequestException) && !cancellationToken.IsCancellationRequested && _resumes < MaxResumes)
                {
                    _resumes++;
                    LogResuming(grain.Logger, grain.Digest, _position, e.Message);
                    grain.Metrics.Add("mirror_blob_resumes_total");
                    await _current.DisposeAsync();
                    var reopened = await grain.OpenAtAsync(source, _position, cancellationToken)
                                   ?? throw new IOException($"{grain.Digest} vanished while resuming");
                    if (reopened.Length != length) throw new IOException($"{grain.Digest} changed length while resuming");
                    _current = reopened.Content;
                }
            }
        }

        public override long Length => length - _start;
        public override long Position { get => _position - _start; set => throw new NotSupportedException(); }
        protected override void Dispose(bool disposing)
        {
            if (disposing) _current.Dispose();
            base.Dispose(disposing);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream of {Digest} broke at {Position}; resuming from the current owner: {Reason}")]
    private static partial void LogResuming(ILogger logger, Digest digest, long position, string reason);
}

/// <summary>A manifest grain reached over the network; the same tag always lands on the same silo, which single-flights it.</summary>
internal sealed class RemoteManifestGrain(ManifestRef reference, SiloClient silos, RepositoryAccess access) : IManifestGrain
{
    private string Key => $"manifest|{reference}";

    public Task<ManifestContent?> GetOrNullAsync(CancellationToken cancellationToken) => FetchAsync(null, cancellationToken);

    public Task<ManifestContent?> GetForAcceptOrNullAsync(IReadOnlyList<string> accept, CancellationToken cancellationToken) => FetchAsync(accept, cancellationToken);

    private async Task<ManifestContent?> FetchAsync(IReadOnlyList<string>? accept, CancellationToken ct)
    {
        var path = $"/internal/v1/manifests?{Query.Of(reference.Repository)}&reference={Uri.EscapeDataString(reference.Reference)}";
        if (accept is not null) path += "&accept=client";
        using var response = await silos.GetAsync(Key, path, accept, ct);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        if (!response.IsSuccessStatusCode) throw await SiloClient.ToErrorAsync(response, ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        if (bytes.Length > ManifestFetcher.MaxManifestBytes) throw new RegistryException(ErrorCode.BadGateway, "manifest too large");
        var claimed = response.Headers.TryGetValues("Docker-Content-Digest", out var v) && Digest.TryParse(v.FirstOrDefault(), out var d) ? d : null;
        var digest = Digest.Of(claimed?.Algorithm ?? "sha256", bytes);
        if (claimed is not null && claimed != digest) throw new RegistryException(ErrorCode.BadGateway, "silo sent a manifest that does not match its digest");
        var manifest = new ManifestContent(digest, response.Content.Headers.ContentType?.MediaType ?? MediaTypes.OciManifest, bytes);
        access.GrantManifest(reference.Repository, manifest);
        return manifest;
    }
}

/// <summary>Keeps an HTTP response alive while its body is read.</summary>
internal sealed class ResponseStream(HttpResponseMessage response, Stream inner) : ReadOnlyStream
{
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
    protected override void Dispose(bool disposing)
    {
        if (disposing) { inner.Dispose(); response.Dispose(); }
        base.Dispose(disposing);
    }
}
