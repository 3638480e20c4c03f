using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// Describes an image (platform, layers, command, manifest format) and pushes it to a registry by hand with the
/// OCI distribution push API. The same description always yields the same digests.
/// </summary>
/// <remarks>
/// Pushing, for each blob (config and layers):
/// 1. <c>HEAD /v2/NAME/blobs/DIGEST</c>: skip the blob if the registry has it.
/// 2. <c>POST /v2/NAME/blobs/uploads/</c> opens an upload session (and, under token auth, gets a push token).
/// 3. Blobs up to the chunk size go in one <c>PUT LOCATION?digest=</c>; bigger ones go in <c>PATCH</c> chunks with
///    <c>Content-Range</c>, then an empty <c>PUT ?digest=</c>. Bodies are streamed from the local file.
/// 4. Then <c>PUT /v2/NAME/manifests/REFERENCE</c>, checking the registry's <c>Docker-Content-Digest</c>.
/// </remarks>
public sealed class ImageBuilder
{
    /// <summary>Blobs bigger than this are uploaded in PATCH chunks of this size unless <see cref="WithChunkSize"/> says otherwise.</summary>
    public const long DefaultChunkSize = 64L << 20;

    private readonly List<LayerSpec> _layers = [];
    private ManifestFormat _format = ManifestFormat.Docker;
    private string _os = "linux";
    private string _architecture = "amd64";
    private string? _variant;
    private string[] _cmd = ["/bin/sh"];
    private long _chunkSize = DefaultChunkSize;

    /// <summary>Directory where image config blobs are kept (content-addressed).</summary>
    public static string ConfigDirectory { get; } = Path.Combine(TempDir.Root, "image-configs");

    /// <summary>Sets the manifest format (default Docker v2s2).</summary>
    public ImageBuilder WithFormat(ManifestFormat format) { _format = format; return this; }

    /// <summary>Sets the platform (default linux/amd64).</summary>
    public ImageBuilder WithPlatform(string architecture, string os = "linux", string? variant = null)
    {
        (_architecture, _os, _variant) = (architecture, os, variant);
        return this;
    }

    /// <summary>Adds a layer on top of the previous ones.</summary>
    public ImageBuilder WithLayer(LayerSpec layer) { _layers.Add(layer); return this; }

    /// <summary>Adds a layer of one file with <paramref name="size"/> pseudo-random bytes from <paramref name="seed"/>.</summary>
    public ImageBuilder WithRandomLayer(long size, int seed) => WithLayer(LayerSpec.Random(size, seed));

    /// <summary>Adds a busybox layer so the image can run <c>echo</c>, <c>sh</c>, <c>cat</c>.</summary>
    public ImageBuilder WithRunnableLayer() => WithLayer(LayerSpec.Runnable());

    /// <summary>Sets the config's <c>Cmd</c> (default ["/bin/sh"]).</summary>
    public ImageBuilder WithCmd(params string[] cmd) { _cmd = cmd; return this; }

    /// <summary>Blobs bigger than <paramref name="bytes"/> are uploaded in PATCH chunks of that size.</summary>
    public ImageBuilder WithChunkSize(long bytes) { _chunkSize = bytes > 0 ? bytes : throw new ArgumentOutOfRangeException(nameof(bytes)); return this; }

    /// <summary>Pushes the image to <paramref name="registry"/> as <paramref name="repository"/>:<paramref name="tag"/>.</summary>
    public async Task<PushedImage> PushAsync(UpstreamRegistry registry, string repository, string tag = "latest", CancellationToken cancellationToken = default)
    {
        using var client = registry.CreateAuthorizedClient();
        return await PushAsync(client, repository, tag, cancellationToken);
    }

    /// <summary>
    /// Pushes the image through <paramref name="client"/> (whose BaseAddress is the registry and which handles auth,
    /// e.g. from <see cref="UpstreamRegistry.CreateAuthorizedClient"/>); a null <paramref name="tag"/> pushes by digest.
    /// </summary>
    public async Task<PushedImage> PushAsync(HttpClient client, string repository, string? tag, CancellationToken cancellationToken = default)
    {
        var (layerMediaType, configMediaType, manifestMediaType) = _format == ManifestFormat.Docker
            ? (MediaTypes.DockerLayer, MediaTypes.DockerConfig, MediaTypes.DockerManifest)
            : (MediaTypes.OciLayer, MediaTypes.OciConfig, MediaTypes.OciManifest);

        var layers = new List<PushedBlob>();
        foreach (var spec in _layers)
        {
            var file = await LayerFactory.GetAsync(spec);
            layers.Add(new PushedBlob(file.Digest, file.Size, layerMediaType, file.Path, file.DiffId));
        }
        var config = WriteConfig(configMediaType, layers);
        foreach (var blob in (PushedBlob[])[config, .. layers])
        {
            await PushBlobAsync(client, repository, blob, _chunkSize, cancellationToken);
        }

        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = manifestMediaType,
            ["config"] = Descriptor(config),
            ["layers"] = new JsonArray([.. layers.Select(Descriptor)]),
        };
        var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest);
        var digest = await PushManifestAsync(client, repository, tag, manifestMediaType, bytes, cancellationToken);
        return new PushedImage(repository, tag, digest, manifestMediaType, bytes, _os, _architecture, config, layers);
    }

    /// <summary>
    /// Pushes each of <paramref name="platforms"/> by digest (in the index's format), then a Docker manifest list
    /// (<see cref="ManifestFormat.Docker"/>) or OCI index over them as <paramref name="repository"/>:<paramref name="tag"/>.
    /// </summary>
    public static async Task<PushedIndex> PushIndexAsync(UpstreamRegistry registry, string repository, string tag,
        ManifestFormat format, IEnumerable<ImageBuilder> platforms, CancellationToken cancellationToken = default)
    {
        using var client = registry.CreateAuthorizedClient();
        return await PushIndexAsync(client, repository, tag, format, platforms, cancellationToken);
    }

    /// <summary>As <see cref="PushIndexAsync(UpstreamRegistry, string, string, ManifestFormat, IEnumerable{ImageBuilder}, CancellationToken)"/>, through <paramref name="client"/>.</summary>
    public static async Task<PushedIndex> PushIndexAsync(HttpClient client, string repository, string tag,
        ManifestFormat format, IEnumerable<ImageBuilder> platforms, CancellationToken cancellationToken = default)
    {
        var children = new List<PushedImage>();
        var descriptors = new JsonArray();
        foreach (var platform in platforms)
        {
            platform._format = format;
            var child = await platform.PushAsync(client, repository, null, cancellationToken);
            children.Add(child);
            var platformJson = new JsonObject { ["architecture"] = platform._architecture, ["os"] = platform._os };
            if (platform._variant is not null) platformJson["variant"] = platform._variant;
            descriptors.Add(new JsonObject
            {
                ["mediaType"] = child.MediaType,
                ["size"] = child.ManifestBytes.Length,
                ["digest"] = child.Digest,
                ["platform"] = platformJson,
            });
        }
        var mediaType = format == ManifestFormat.Docker ? MediaTypes.DockerManifestList : MediaTypes.OciIndex;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = mediaType, ["manifests"] = descriptors });
        var digest = await PushManifestAsync(client, repository, tag, mediaType, bytes, cancellationToken);
        return new PushedIndex(repository, tag, digest, mediaType, bytes, children);
    }

    private PushedBlob WriteConfig(string mediaType, List<PushedBlob> layers)
    {
        var config = new JsonObject
        {
            ["architecture"] = _architecture,
            ["os"] = _os,
            ["created"] = "2000-01-01T00:00:00Z",
            ["config"] = new JsonObject
            {
                ["Env"] = new JsonArray("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                ["Cmd"] = new JsonArray([.. _cmd.Select(c => JsonValue.Create(c))]),
            },
            ["rootfs"] = new JsonObject
            {
                ["type"] = "layers",
                ["diff_ids"] = new JsonArray([.. layers.Select(l => JsonValue.Create(l.DiffId))]),
            },
        };
        if (_variant is not null) config["variant"] = _variant;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(config);
        var digest = Sha256(bytes);
        Directory.CreateDirectory(ConfigDirectory);
        var path = Path.Combine(ConfigDirectory, digest.Replace(':', '-') + ".json");
        if (!File.Exists(path))
        {
            var temp = $"{path}.{Guid.NewGuid():N}.tmp";
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }
        return new PushedBlob(digest, bytes.Length, mediaType, path);
    }

    private static JsonObject Descriptor(PushedBlob blob) =>
        new() { ["mediaType"] = blob.MediaType, ["size"] = blob.Size, ["digest"] = blob.Digest };

    private static string Sha256(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static async Task PushBlobAsync(HttpClient client, string repository, PushedBlob blob, long chunkSize, CancellationToken cancellationToken)
    {
        // 1. Skip blobs the registry already has.
        using (var head = new HttpRequestMessage(HttpMethod.Head, $"v2/{repository}/blobs/{blob.Digest}"))
        using (var exists = await client.SendAsync(head, cancellationToken))
        {
            if (exists.StatusCode == HttpStatusCode.OK) return;
        }

        // 2. Open an upload session.
        Uri location;
        using (var post = await client.PostAsync($"v2/{repository}/blobs/uploads/", null, cancellationToken))
        {
            location = await ExpectLocationAsync(client, post, HttpStatusCode.Accepted, "open upload", cancellationToken);
        }

        // 3. Monolithic PUT, or PATCH chunks then PUT.
        HttpContent finalBody;
        if (blob.Size <= chunkSize)
        {
            finalBody = FileContent(new FileSliceStream(blob.LocalPath, 0, blob.Size));
        }
        else
        {
            for (long offset = 0; offset < blob.Size; offset += chunkSize)
            {
                var length = Math.Min(chunkSize, blob.Size - offset);
                using var patch = new HttpRequestMessage(HttpMethod.Patch, location) { Content = FileContent(new FileSliceStream(blob.LocalPath, offset, length)) };
                patch.Content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + length - 1}");
                using var response = await client.SendAsync(patch, cancellationToken);
                location = await ExpectLocationAsync(client, response, HttpStatusCode.Accepted, $"upload chunk at {offset}", cancellationToken);
            }
            finalBody = new ByteArrayContent([]);
        }
        var separator = location.Query.Length > 0 ? "&" : "?";
        using var put = new HttpRequestMessage(HttpMethod.Put, new Uri(location.AbsoluteUri + separator + "digest=" + Uri.EscapeDataString(blob.Digest))) { Content = finalBody };
        using var done = await client.SendAsync(put, cancellationToken);
        await ExpectAsync(done, HttpStatusCode.Created, $"commit blob {blob.Digest}", cancellationToken);
    }

    private static StreamContent FileContent(Stream stream)
    {
        var content = new StreamContent(stream, 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = stream.Length;
        return content;
    }

    private static async Task<string> PushManifestAsync(HttpClient client, string repository, string? tag, string mediaType, byte[] bytes, CancellationToken cancellationToken)
    {
        var digest = Sha256(bytes);
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await client.PutAsync($"v2/{repository}/manifests/{tag ?? digest}", content, cancellationToken);
        await ExpectAsync(response, HttpStatusCode.Created, $"push manifest {repository}:{tag ?? digest}", cancellationToken);
        var answered = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;
        if (answered is not null && answered != digest)
        {
            throw new InvalidOperationException($"registry computed manifest digest {answered}, expected {digest}");
        }
        return digest;
    }

    private static async Task<Uri> ExpectLocationAsync(HttpClient client, HttpResponseMessage response, HttpStatusCode status, string what, CancellationToken cancellationToken)
    {
        await ExpectAsync(response, status, what, cancellationToken);
        var location = response.Headers.Location ?? throw new InvalidOperationException($"{what}: no Location header");
        return location.IsAbsoluteUri ? location : new Uri(client.BaseAddress!, location);
    }

    private static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode status, string what, CancellationToken cancellationToken)
    {
        if (response.StatusCode == status) return;
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        throw new InvalidOperationException($"{what}: expected {(int)status}, got {(int)response.StatusCode} {body}");
    }
}
