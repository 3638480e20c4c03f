using System.Net;
using System.Security.Cryptography;
using System.Text.Json;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>Small HTTP helpers for talking to the mirror like a registry client does.</summary>
public static class Http
{
    /// <summary>Every manifest type a modern client accepts.</summary>
    public static readonly string[] AllManifestTypes = [MediaTypes.OciIndex, MediaTypes.DockerManifestList, MediaTypes.OciManifest, MediaTypes.DockerManifest];

    /// <summary>A client with no timeout surprises and no redirects followed silently.</summary>
    public static HttpClient Client(Uri baseUrl, bool followRedirects = true) =>
        new(new SocketsHttpHandler { AllowAutoRedirect = followRedirects, UseProxy = false }) { BaseAddress = baseUrl, Timeout = TimeSpan.FromMinutes(5) };

    /// <summary>GET or HEAD of a manifest with the given Accept list.</summary>
    public static async Task<HttpResponseMessage> ManifestAsync(HttpClient client, string name, string reference, HttpMethod? method = null, params string[] accept)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, $"/v2/{name}/manifests/{reference}");
        foreach (var a in accept.Length == 0 ? AllManifestTypes : accept) request.Headers.TryAddWithoutValidation("Accept", a);
        return await client.SendAsync(request);
    }

    /// <summary>Downloads a blob fully and returns its sha256 digest and size; throws if the body is cut or the connection aborted.</summary>
    public static async Task<(string Digest, long Size)> BlobDigestAsync(HttpClient client, string name, string digest)
    {
        using var response = await client.GetAsync($"/v2/{name}/blobs/{digest}", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        return await HashAsync(body);
    }

    /// <summary>SHA-256 of a stream.</summary>
    public static async Task<(string Digest, long Size)> HashAsync(Stream body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        long total = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }
        return ("sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset()), total);
    }

    /// <summary>The first error code of an OCI error body.</summary>
    public static async Task<string?> ErrorCodeAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (string.IsNullOrEmpty(text)) return null;
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("errors")[0].GetProperty("code").GetString();
    }

    /// <summary>The sha256 of a local file.</summary>
    public static async Task<string> FileDigestAsync(string path)
    {
        await using var f = File.OpenRead(path);
        return (await HashAsync(f)).Digest;
    }

    /// <summary>True when the status is a server error.</summary>
    public static bool IsServerError(HttpStatusCode status) => (int)status >= 500;
}
