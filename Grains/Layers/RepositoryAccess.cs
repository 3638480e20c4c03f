using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Layers;

/// <summary>
/// Keeps a cached blob or manifest from being served through a repository the upstream would refuse it for.
/// Blobs are cached by digest and shared by every repository; before a cached object is served through repository R,
/// R must have been seen to hold it: either a manifest served for R references it, or a HEAD at R's upstream said so.
/// </summary>
public sealed class RepositoryAccess(UpstreamRegistries upstreams, MirrorMetrics metrics)
{
    /// <summary>Bound on remembered grants; past it the memory starts over (costs one HEAD per pair, never a wrong answer).</summary>
    private const int MaxGrants = 1_000_000;

    private readonly ConcurrentDictionary<(RepositoryRef, Digest), byte> _grants = new();

    /// <summary>Records that <paramref name="repository"/> holds <paramref name="digest"/>.</summary>
    public void Grant(RepositoryRef repository, Digest digest)
    {
        if (_grants.Count >= MaxGrants) _grants.Clear();
        _grants.TryAdd((repository, digest), 0);
    }

    /// <summary>Records a manifest and everything it references (config, layers, child manifests) as held by <paramref name="repository"/>.</summary>
    public void GrantManifest(RepositoryRef repository, ManifestContent manifest)
    {
        Grant(repository, manifest.Digest);
        foreach (var d in ReferencedDigests(manifest.Bytes)) Grant(repository, d);
    }

    /// <summary>True when the grant is already known (no upstream call).</summary>
    public bool IsGranted(RepositoryRef repository, Digest digest) => _grants.ContainsKey((repository, digest));

    /// <summary>
    /// Ensures <paramref name="repository"/> may read <paramref name="digest"/>; asks the upstream with a HEAD when not yet
    /// known. Throws the upstream's answer (404 as BLOB_UNKNOWN / MANIFEST_UNKNOWN, 401, 403) when it refuses.
    /// </summary>
    public async Task EnsureAsync(RepositoryRef repository, Digest digest, bool isManifest, CancellationToken cancellationToken)
    {
        if (IsGranted(repository, digest)) return;
        var upstream = upstreams.Get(repository.Registry);
        var kind = isManifest ? "manifests" : "blobs";
        metrics.Add("mirror_upstream_requests_total", $"{MirrorMetrics.Label("registry", repository.Registry)},kind=\"{kind}_access_head\"");
        using var response = await upstream.SendAsync(HttpMethod.Head, repository.Repository, $"{kind}/{digest}",
            isManifest ? MediaTypes.All : null, null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.OK)
        {
            Grant(repository, digest);
            return;
        }
        throw await UpstreamRegistry.ToErrorAsync(response, isManifest ? ErrorCode.ManifestUnknown : ErrorCode.BlobUnknown, cancellationToken);
    }

    /// <summary>The digests a manifest or index points at.</summary>
    public static IEnumerable<Digest> ReferencedDigests(ReadOnlyMemory<byte> manifest)
    {
        var found = new List<Digest>();
        try
        {
            using var json = JsonDocument.Parse(manifest);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return found;
            if (root.TryGetProperty("config", out var config)) Add(config);
            foreach (var list in new[] { "layers", "manifests", "blobs" })
            {
                if (root.TryGetProperty(list, out var items) && items.ValueKind == JsonValueKind.Array)
                {
                    foreach (var item in items.EnumerateArray()) Add(item);
                }
            }
            if (root.TryGetProperty("subject", out var subject)) Add(subject);
            // Schema 1: fsLayers[].blobSum
            if (root.TryGetProperty("fsLayers", out var fs) && fs.ValueKind == JsonValueKind.Array)
            {
                foreach (var l in fs.EnumerateArray())
                {
                    if (l.ValueKind == JsonValueKind.Object && l.TryGetProperty("blobSum", out var b) && Digest.TryParse(b.GetString(), out var d)) found.Add(d.Value);
                }
            }
        }
        catch (JsonException) { }
        return found;

        void Add(JsonElement descriptor)
        {
            if (descriptor.ValueKind == JsonValueKind.Object && descriptor.TryGetProperty("digest", out var d)
                && d.ValueKind == JsonValueKind.String && Digest.TryParse(d.GetString(), out var digest))
                found.Add(digest.Value);
        }
    }
}
