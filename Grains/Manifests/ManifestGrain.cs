using System.Net;
using Microsoft.Extensions.Logging;
using Mirror.Grains.Layers;
using Mirror.Grains.Storage;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Manifests;

/// <summary>Shared services of every manifest grain in a process.</summary>
public sealed class ManifestServices(IMetadataStore store, UpstreamRegistries upstreams, RepositoryAccess access, MirrorMetrics metrics,
    MirrorOptions options, KeyedLock locks, ILogger<ManifestGrain> logger, TimeProvider clock)
{
    internal IMetadataStore Store => store;
    internal UpstreamRegistries Upstreams => upstreams;
    internal RepositoryAccess Access => access;
    internal MirrorMetrics Metrics => metrics;
    internal TimeSpan TagTtl => options.TagTtl;
    internal KeyedLock Locks => locks;
    internal ILogger Logger => logger;
    internal TimeProvider Clock => clock;
}

/// <summary>
/// One manifest reference. A digest is served from the store forever once verified. A tag is served from the store
/// within its TTL; after it, a HEAD (free under Docker Hub's rate limit) revalidates, and only a changed digest costs a
/// GET. When the upstream is unreachable, 5xx or 429, the last good answer is served and the log says so.
/// </summary>
public sealed partial class ManifestGrain(ManifestRef reference, ManifestServices s) : IManifestGrain
{
    private RepositoryRef Repository => reference.Repository;

    /// <inheritdoc />
    public async Task<ManifestContent?> GetOrNullAsync(CancellationToken cancellationToken)
    {
        var upstream = s.Upstreams.Get(Repository.Registry);
        return reference.Digest is { } digest
            ? await GetByDigestAsync(upstream, digest, cancellationToken)
            : await GetByTagAsync(upstream, reference.Reference, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ManifestContent?> GetForAcceptOrNullAsync(IReadOnlyList<string> accept, CancellationToken cancellationToken)
    {
        var upstream = s.Upstreams.Get(Repository.Registry);
        var manifest = await ManifestFetcher.GetOrNullAsync(upstream, Repository.Repository, reference.Reference, accept, s.Metrics, cancellationToken);
        if (manifest is null) return null;
        await s.Store.PutManifestAsync(manifest, cancellationToken);
        s.Access.GrantManifest(Repository, manifest);
        return manifest;
    }

    private async Task<ManifestContent?> GetByDigestAsync(UpstreamRegistry upstream, Digest digest, CancellationToken ct)
    {
        if (await s.Store.GetManifestOrNullAsync(digest, ct) is { } cached)
        {
            await s.Access.EnsureAsync(Repository, digest, isManifest: true, ct);
            s.Access.GrantManifest(Repository, cached);
            Count("hit");
            return cached;
        }
        using var _ = await s.Locks.AcquireAsync($"m|{Repository}|{digest}", ct);
        if (await s.Store.GetManifestOrNullAsync(digest, ct) is { } raced)
        {
            await s.Access.EnsureAsync(Repository, digest, isManifest: true, ct);
            return raced;
        }
        var fetched = await ManifestFetcher.GetOrNullAsync(upstream, Repository.Repository, digest.ToString(), MediaTypes.All, s.Metrics, ct);
        if (fetched is null) return null;
        await s.Store.PutManifestAsync(fetched, ct);
        s.Access.GrantManifest(Repository, fetched);
        Count("fetched");
        return fetched;
    }

    private async Task<ManifestContent?> GetByTagAsync(UpstreamRegistry upstream, string tag, CancellationToken ct)
    {
        if (await FreshOrNullAsync(tag, ct) is { } fresh) return Served(fresh, "hit");

        using var _ = await s.Locks.AcquireAsync($"t|{Repository}|{tag}", ct);
        // Another request may have revalidated while this one waited.
        if (await FreshOrNullAsync(tag, ct) is { } raced) return Served(raced, "hit");

        var record = await s.Store.GetTagOrNullAsync(Repository, tag, ct);
        var cached = record is null ? null : await s.Store.GetManifestOrNullAsync(record.Digest, ct);
        try
        {
            if (record is not null && cached is not null)
            {
                var (status, digest, response) = await ManifestFetcher.HeadAsync(upstream, Repository.Repository, tag, s.Metrics, ct);
                using (response)
                {
                    if (status == HttpStatusCode.OK && digest == record.Digest)
                    {
                        await s.Store.PutTagAsync(Repository, tag, record with { ValidatedAt = s.Clock.GetUtcNow() }, ct);
                        return Served(cached, "revalidated");
                    }
                    if (status == HttpStatusCode.NotFound)
                    {
                        await s.Store.DeleteTagAsync(Repository, tag, ct);
                        return null;
                    }
                    if (IsOutage(status)) return Stale(cached, $"HEAD answered {(int)status}");
                    if (status != HttpStatusCode.OK) throw await UpstreamRegistry.ToErrorAsync(response, ErrorCode.ManifestUnknown, ct);
                    // 200 with another digest (or none): the tag moved; fall through to a GET.
                }
            }

            var fetched = await ManifestFetcher.GetOrNullAsync(upstream, Repository.Repository, tag, MediaTypes.All, s.Metrics, ct);
            if (fetched is null)
            {
                if (record is not null) await s.Store.DeleteTagAsync(Repository, tag, ct);
                return null;
            }
            await s.Store.PutManifestAsync(fetched, ct);
            await s.Store.PutTagAsync(Repository, tag, new TagRecord(fetched.Digest, fetched.MediaType, s.Clock.GetUtcNow()), ct);
            return Served(fetched, "fetched");
        }
        catch (RegistryException e) when (cached is not null && IsOutage(e))
        {
            return Stale(cached, e.Message);
        }
    }

    private async Task<ManifestContent?> FreshOrNullAsync(string tag, CancellationToken ct)
    {
        var record = await s.Store.GetTagOrNullAsync(Repository, tag, ct);
        if (record is null || s.Clock.GetUtcNow() - record.ValidatedAt >= s.TagTtl) return null;
        return await s.Store.GetManifestOrNullAsync(record.Digest, ct);
    }

    private ManifestContent Served(ManifestContent manifest, string result)
    {
        s.Access.GrantManifest(Repository, manifest);
        Count(result);
        return manifest;
    }

    private ManifestContent Stale(ManifestContent cached, string reason)
    {
        LogStale(s.Logger, reference.ToString(), cached.Digest, reason);
        return Served(cached, "stale");
    }

    private void Count(string result) => s.Metrics.Add("mirror_manifest_requests_total", $"result=\"{result}\"");

    private static bool IsOutage(HttpStatusCode status) => (int)status is 429 or >= 500;

    private static bool IsOutage(RegistryException e) => e.Error.Status is 429 or 502 or 503 or 504;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Serving last good manifest for {Reference} ({Digest}): upstream unavailable ({Reason})")]
    private static partial void LogStale(ILogger logger, string reference, Digest digest, string reason);
}
