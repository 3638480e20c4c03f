using System.Net;
using System.Text.Json;
using Mirror.Grains.Upstream;

namespace Mirror.Grains.Manifests;

/// <summary>Fetches and verifies manifests from an upstream; bounded in size, never trusted for its digest.</summary>
public static class ManifestFetcher
{
    /// <summary>Largest manifest accepted from an upstream (the CNCF registry's own limit is 4 MiB).</summary>
    public const int MaxManifestBytes = 4 * 1024 * 1024;

    /// <summary>GETs a manifest; null on 404. The digest is computed from the bytes and checked against the upstream's header.</summary>
    public static async Task<ManifestContent?> GetOrNullAsync(UpstreamRegistry upstream, string repository, string reference,
        IEnumerable<string> accept, MirrorMetrics metrics, CancellationToken cancellationToken)
    {
        metrics.Add("mirror_upstream_requests_total", $"{MirrorMetrics.Label("registry", upstream.Name)},kind=\"manifest_get\"");
        using var response = await upstream.SendAsync(HttpMethod.Get, repository, $"manifests/{reference}", accept, null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        if (!response.IsSuccessStatusCode) throw await UpstreamRegistry.ToErrorAsync(response, ErrorCode.ManifestUnknown, cancellationToken);
        if (response.Content.Headers.ContentLength > MaxManifestBytes)
            throw new RegistryException(ErrorCode.BadGateway, $"upstream manifest larger than {MaxManifestBytes} bytes");

        byte[] bytes;
        await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken))
        {
            using var limited = new LimitedStream(body, MaxManifestBytes);
            using var memory = new MemoryStream();
            try { await limited.CopyToAsync(memory, cancellationToken); }
            catch (IOException e) { throw new RegistryException(ErrorCode.BadGateway, $"reading upstream manifest: {e.Message}", inner: e); }
            bytes = memory.ToArray();
        }

        var algorithm = Digest.TryParse(reference, out var asked) ? asked.Value.Algorithm : "sha256";
        var digest = Digest.Of(algorithm, bytes);
        if (asked is { } a && a != digest)
            throw new RegistryException(ErrorCode.BadGateway, $"upstream manifest hashes to {digest}, not {a}");
        if (response.Headers.TryGetValues("Docker-Content-Digest", out var values)
            && Digest.TryParse(values.FirstOrDefault(), out var claimed) && claimed.Value.Algorithm == digest.Algorithm && claimed.Value != digest)
            throw new RegistryException(ErrorCode.BadGateway, $"upstream says {claimed} but the manifest hashes to {digest}");

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (string.IsNullOrEmpty(mediaType) || mediaType is "application/json" or "text/plain" or "application/octet-stream")
            mediaType = SniffMediaType(bytes) ?? mediaType ?? MediaTypes.DockerSchema1;
        return new ManifestContent(digest, mediaType, bytes);
    }

    /// <summary>HEADs a tag with all manifest types; returns the status and the upstream's digest header.</summary>
    public static async Task<(HttpStatusCode Status, Digest? Digest, HttpResponseMessage Response)> HeadAsync(UpstreamRegistry upstream,
        string repository, string reference, MirrorMetrics metrics, CancellationToken cancellationToken)
    {
        metrics.Add("mirror_upstream_requests_total", $"{MirrorMetrics.Label("registry", upstream.Name)},kind=\"manifest_head\"");
        var response = await upstream.SendAsync(HttpMethod.Head, repository, $"manifests/{reference}", MediaTypes.All, null, cancellationToken);
        Digest? digest = response.Headers.TryGetValues("Docker-Content-Digest", out var v) && Digest.TryParse(v.FirstOrDefault(), out var d) ? d : null;
        return (response.StatusCode, digest, response);
    }

    /// <summary>The <c>mediaType</c> field of a manifest, or null.</summary>
    public static string? SniffMediaType(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            using var json = JsonDocument.Parse(bytes);
            if (json.RootElement.ValueKind != JsonValueKind.Object) return null;
            if (json.RootElement.TryGetProperty("mediaType", out var m) && m.ValueKind == JsonValueKind.String) return m.GetString();
            if (json.RootElement.TryGetProperty("manifests", out _)) return MediaTypes.OciIndex;
            if (json.RootElement.TryGetProperty("layers", out _)) return MediaTypes.OciManifest;
            if (json.RootElement.TryGetProperty("signatures", out _)) return MediaTypes.DockerSchema1Signed;
        }
        catch (JsonException) { }
        return null;
    }
}
