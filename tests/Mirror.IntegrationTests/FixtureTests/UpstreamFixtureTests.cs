using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.FixtureTests;

/// <summary>One anonymous and one token-auth upstream registry shared by <see cref="UpstreamFixtureTests"/>.</summary>
public sealed class UpstreamRegistriesFixture : IAsyncLifetime
{
    /// <summary>A registry without authentication.</summary>
    public UpstreamRegistry Anonymous { get; private set; } = null!;

    /// <summary>A registry with Docker-Hub-like token authentication.</summary>
    public UpstreamRegistry WithTokens { get; private set; } = null!;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var anonymous = UpstreamRegistry.StartAnonymousAsync();
        var withTokens = UpstreamRegistry.StartWithTokenAuthAsync();
        Anonymous = await anonymous;
        WithTokens = await withTokens;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (Anonymous is not null) await Anonymous.DisposeAsync();
        if (WithTokens is not null) await WithTokens.DisposeAsync();
    }
}

/// <summary>Proves the upstream fixtures: registries, token server, image pushing and the fault proxy.</summary>
public sealed class UpstreamFixtureTests(UpstreamRegistriesFixture registries) : IClassFixture<UpstreamRegistriesFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly string[] ManifestAccept =
        [MediaTypes.DockerManifest, MediaTypes.DockerManifestList, MediaTypes.OciManifest, MediaTypes.OciIndex];

    [Fact]
    public async Task DockerImageReadsBackByteForByte()
    {
        var image = await new ImageBuilder().WithRunnableLayer().WithRandomLayer(300 * 1024, seed: 1)
            .WithCmd("/bin/echo", "hello").PushAsync(registries.Anonymous, "library/docker-image", "v1");

        using var client = registries.Anonymous.CreateAnonymousClient();
        await AssertManifestAsync(client, image.Repository, "v1", image.MediaType, image.ManifestBytes);
        using var manifest = JsonDocument.Parse(image.ManifestBytes);
        Assert.Equal(MediaTypes.DockerConfig, manifest.RootElement.GetProperty("config").GetProperty("mediaType").GetString());
        Assert.All(manifest.RootElement.GetProperty("layers").EnumerateArray(),
            l => Assert.Equal(MediaTypes.DockerLayer, l.GetProperty("mediaType").GetString()));
        foreach (var blob in image.Blobs) await AssertBlobAsync(client, image.Repository, blob);

        using var config = JsonDocument.Parse(await File.ReadAllBytesAsync(image.Config.LocalPath));
        Assert.Equal("amd64", config.RootElement.GetProperty("architecture").GetString());
        Assert.Equal("linux", config.RootElement.GetProperty("os").GetString());
        Assert.Equal(["/bin/echo", "hello"], config.RootElement.GetProperty("config").GetProperty("Cmd").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(image.Layers.Select(l => l.DiffId), config.RootElement.GetProperty("rootfs").GetProperty("diff_ids").EnumerateArray().Select(e => e.GetString()));
        foreach (var layer in image.Layers) Assert.Equal(layer.DiffId, await UncompressedDigestAsync(layer.LocalPath));

        var entries = await TarEntriesAsync(image.Layers[0].LocalPath);
        Assert.Equal(TarEntryType.RegularFile, entries["bin/busybox"].EntryType);
        Assert.Equal(new FileInfo(BusyboxLayer.BusyboxPath).Length, entries["bin/busybox"].Length);
        Assert.True(entries["bin/busybox"].Mode.HasFlag(UnixFileMode.UserExecute));
        foreach (var applet in new[] { "sh", "echo", "cat" })
        {
            Assert.Equal(TarEntryType.SymbolicLink, entries["bin/" + applet].EntryType);
            Assert.Equal("busybox", entries["bin/" + applet].LinkName);
        }
        var random = await TarEntriesAsync(image.Layers[1].LocalPath);
        Assert.Equal(300 * 1024, random.Values.Single(e => e.EntryType == TarEntryType.RegularFile).Length);
    }

    [Fact]
    public async Task OciImageUploadedInChunksReadsBackByteForByte()
    {
        var builder = new ImageBuilder().WithFormat(ManifestFormat.Oci).WithRandomLayer(3 * 1024 * 1024 + 17, seed: 2).WithChunkSize(1024 * 1024);
        var image = await builder.PushAsync(registries.Anonymous, "library/oci-image", "v1");

        Assert.Equal(MediaTypes.OciManifest, image.MediaType);
        using var manifest = JsonDocument.Parse(image.ManifestBytes);
        Assert.Equal(MediaTypes.OciConfig, manifest.RootElement.GetProperty("config").GetProperty("mediaType").GetString());
        Assert.Equal(MediaTypes.OciLayer, manifest.RootElement.GetProperty("layers")[0].GetProperty("mediaType").GetString());
        using var client = registries.Anonymous.CreateAnonymousClient();
        await AssertManifestAsync(client, image.Repository, "v1", MediaTypes.OciManifest, image.ManifestBytes);
        await AssertManifestAsync(client, image.Repository, image.Digest, MediaTypes.OciManifest, image.ManifestBytes);
        foreach (var blob in image.Blobs) await AssertBlobAsync(client, image.Repository, blob);

        // Pushing the same description again gives the same digests and uploads nothing new.
        var again = await builder.PushAsync(registries.Anonymous, "library/oci-image", "v2");
        Assert.Equal(image.Digest, again.Digest);
    }

    [Theory]
    [InlineData(ManifestFormat.Docker, MediaTypes.DockerManifestList, MediaTypes.DockerManifest)]
    [InlineData(ManifestFormat.Oci, MediaTypes.OciIndex, MediaTypes.OciManifest)]
    public async Task IndexPointsAtPerPlatformManifests(ManifestFormat format, string indexType, string childType)
    {
        var repository = $"library/multi-{format.ToString().ToLowerInvariant()}";
        var index = await ImageBuilder.PushIndexAsync(registries.Anonymous, repository, "latest", format,
        [
            new ImageBuilder().WithRunnableLayer(),
            new ImageBuilder().WithPlatform("arm64", variant: "v8").WithRandomLayer(8 * 1024, seed: 3),
        ]);

        Assert.Equal(indexType, index.MediaType);
        using var client = registries.Anonymous.CreateAnonymousClient();
        await AssertManifestAsync(client, repository, "latest", indexType, index.ManifestBytes);
        using var json = JsonDocument.Parse(index.ManifestBytes);
        var entries = json.RootElement.GetProperty("manifests").EnumerateArray().ToList();
        Assert.Equal(["amd64", "arm64"], entries.Select(e => e.GetProperty("platform").GetProperty("architecture").GetString()));
        Assert.Equal("v8", entries[1].GetProperty("platform").GetProperty("variant").GetString());
        for (var i = 0; i < entries.Count; i++)
        {
            var child = index.Children[i];
            Assert.Equal(childType, child.MediaType);
            Assert.Equal(child.Digest, entries[i].GetProperty("digest").GetString());
            Assert.Null(child.Tag);
            await AssertManifestAsync(client, repository, child.Digest, childType, child.ManifestBytes);
            foreach (var blob in child.Blobs) await AssertBlobAsync(client, repository, blob);
        }
        using var armConfig = JsonDocument.Parse(await File.ReadAllBytesAsync(index.Children[1].Config.LocalPath));
        Assert.Equal("arm64", armConfig.RootElement.GetProperty("architecture").GetString());
    }

    [Fact]
    public async Task TokenRegistryRefusesAnonymousPullsAndAcceptsTokens()
    {
        var registry = registries.WithTokens;
        var tokens = registry.TokenServer!;
        var image = await new ImageBuilder().WithRandomLayer(64 * 1024, seed: 4).PushAsync(registry, "private/app", "v1");

        using var anonymous = registry.CreateAnonymousClient();
        using (var ping = await anonymous.GetAsync("v2/"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, ping.StatusCode);
            var challenge = Assert.Single(ping.Headers.WwwAuthenticate);
            Assert.Equal("Bearer", challenge.Scheme);
            Assert.Contains($"realm=\"{tokens.Realm}\"", challenge.Parameter);
            Assert.Contains($"service=\"{tokens.Service}\"", challenge.Parameter);
        }
        using (var pull = await anonymous.GetAsync($"v2/private/app/manifests/v1"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, pull.StatusCode);
            Assert.Contains("scope=\"repository:private/app:pull\"", pull.Headers.WwwAuthenticate.Single().Parameter);
        }

        var tokenUrl = $"{tokens.Realm}?service={tokens.Service}&scope=repository:private/app:pull";
        using (var noCredentials = await anonymous.GetAsync(tokenUrl)) Assert.Equal(HttpStatusCode.Unauthorized, noCredentials.StatusCode);
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, tokenUrl) { Headers = { Authorization = Basic(tokens.Username, "wrong") } })
        using (var refused = await anonymous.SendAsync(wrong))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        string token;
        using (var right = new HttpRequestMessage(HttpMethod.Get, tokenUrl) { Headers = { Authorization = Basic(tokens.Username, tokens.Password) } })
        using (var granted = await anonymous.SendAsync(right))
        {
            Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
            using var body = JsonDocument.Parse(await granted.Content.ReadAsStringAsync());
            token = body.RootElement.GetProperty("token").GetString()!;
            Assert.Equal(token, body.RootElement.GetProperty("access_token").GetString());
            Assert.Equal(TokenServer.ExpiresInSeconds, body.RootElement.GetProperty("expires_in").GetInt32());
            Assert.True(body.RootElement.TryGetProperty("issued_at", out _));
        }
        var header = JsonDocument.Parse(Base64UrlDecode(token.Split('.')[0])).RootElement;
        Assert.Equal("ES256", header.GetProperty("alg").GetString());
        Assert.Equal(tokens.KeyId, header.GetProperty("kid").GetString());
        Assert.Matches("^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$", tokens.KeyId);

        using (var withToken = new HttpRequestMessage(HttpMethod.Get, "v2/private/app/manifests/v1"))
        {
            withToken.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            withToken.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(MediaTypes.DockerManifest));
            using var pulled = await anonymous.SendAsync(withToken);
            Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
            Assert.Equal(image.ManifestBytes, await pulled.Content.ReadAsByteArrayAsync());
        }

        // The authorizing client caches its token: a second pull of the same repository asks for none.
        using var authorized = registry.CreateAuthorizedClient();
        await AssertManifestAsync(authorized, "private/app", "v1", image.MediaType, image.ManifestBytes);
        var issued = tokens.IssuedTokens;
        foreach (var blob in image.Blobs) await AssertBlobAsync(authorized, "private/app", blob);
        Assert.Equal(issued, tokens.IssuedTokens);
    }

    [Fact]
    public async Task AnonymousPullTokensAllowPullingButNotPushing()
    {
        await using var registry = await UpstreamRegistry.StartWithTokenAuthAsync(anonymousPull: true);
        var image = await new ImageBuilder().WithRandomLayer(4096, seed: 16).PushAsync(registry, "library/public", "v1");

        using var anonymous = new HttpClient(new RegistryAuthHandler(null, null)) { BaseAddress = registry.Url };
        await AssertManifestAsync(anonymous, image.Repository, "v1", image.MediaType, image.ManifestBytes);
        using var push = await anonymous.PostAsync("v2/library/public/blobs/uploads/", null);
        Assert.Equal(HttpStatusCode.Unauthorized, push.StatusCode);
        Assert.Contains(registry.TokenServer!.Requests, r => r.User is null && r.Status == 200);
    }

    [Fact]
    public async Task DeletedManifestIsGoneUpstream()
    {
        var image = await new ImageBuilder().WithRandomLayer(4096, seed: 5).PushAsync(registries.WithTokens, "private/deleted", "v1");
        await registries.WithTokens.DeleteManifestAsync(image.Repository, image.Digest);
        using var client = registries.WithTokens.CreateAuthorizedClient();
        using var response = await client.GetAsync($"v2/{image.Repository}/manifests/{image.Digest}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task RandomLayersAreReproducibleAndCached()
    {
        var first = await LayerFactory.GetAsync(LayerSpec.Random(1024 * 1024, seed: 6));
        var same = await LayerFactory.GetAsync(LayerSpec.Random(1024 * 1024, seed: 6));
        var other = await LayerFactory.GetAsync(LayerSpec.Random(1024 * 1024, seed: 7));
        Assert.Equal(first, same);
        Assert.NotEqual(first.Digest, other.Digest);
        Assert.StartsWith(LayerFactory.CacheDirectory, first.Path);
        Assert.Equal(first.Digest, await DigestOfFileAsync(first.Path));

        var clock = Stopwatch.StartNew();
        var big = await LayerFactory.GetAsync(LayerSpec.Random(32L * 1024 * 1024, seed: 8));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"a 32 MiB layer took {clock.Elapsed}");
        Assert.InRange(big.Size, 32L * 1024 * 1024, 33L * 1024 * 1024);
    }

    [Fact]
    public async Task ProxyForwardsPushesAndPullsAndCountsThem()
    {
        await using var proxy = await FaultProxy.StartAsync(registries.Anonymous);
        using var viaProxy = new HttpClient { BaseAddress = proxy.Url };
        var image = await new ImageBuilder().WithRandomLayer(2 * 1024 * 1024, seed: 9).WithChunkSize(512 * 1024)
            .PushAsync(viaProxy, "library/proxied", "v1");
        Assert.True(proxy.Count("PATCH", p => p.StartsWith("/v2/library/proxied/blobs/uploads/")) >= 4);

        // Upload session Locations pointed at the proxy, not the registry.
        using (var post = await viaProxy.PostAsync("v2/library/proxied/blobs/uploads/", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, post.StatusCode);
            Assert.StartsWith(proxy.Url.AbsoluteUri, post.Headers.Location!.AbsoluteUri);
        }

        proxy.ResetRequests();
        var layer = image.Layers[0];
        await AssertBlobAsync(viaProxy, "library/proxied", layer);
        await AssertBlobAsync(viaProxy, "library/proxied", layer);
        Assert.Equal(2, proxy.CountBlobGets(layer.Digest));
        Assert.Equal(2, proxy.Count("GET", $"/v2/library/proxied/blobs/{layer.Digest}"));
        Assert.Equal(0, proxy.CountBlobGets(image.Config.Digest));
        Assert.Equal(2, proxy.Requests.Count);

        using (var head = await viaProxy.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/library/proxied/blobs/{layer.Digest}")))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(layer.Size, head.Content.Headers.ContentLength);
            Assert.Equal(layer.Digest, head.Headers.GetValues("Docker-Content-Digest").Single());
        }
        Assert.Equal(1, proxy.Count("HEAD", $"/v2/library/proxied/blobs/{layer.Digest}"));
    }

    [Fact]
    public async Task ProxyForwardsTokenChallengesAndAuthorization()
    {
        var image = await new ImageBuilder().WithRandomLayer(16 * 1024, seed: 10).PushAsync(registries.WithTokens, "private/proxied", "v1");
        await using var proxy = await FaultProxy.StartAsync(registries.WithTokens);
        using var viaProxy = new HttpClient(new RegistryAuthHandler(registries.WithTokens.Username, registries.WithTokens.Password)) { BaseAddress = proxy.Url };
        await AssertBlobAsync(viaProxy, "private/proxied", image.Layers[0]);
        var gets = proxy.Requests.Where(r => r.Method == "GET").ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Authorization);
        Assert.StartsWith("Bearer ", gets[1].Authorization);
    }

    [Fact]
    public async Task FlipByteKeepsLengthButBreaksTheDigest()
    {
        var (proxy, client, layer) = await ProxiedLayerAsync(seed: 11, size: 256 * 1024);
        await using var _ = proxy;
        using var __ = client;
        proxy.SetFault(layer.Digest, Fault.FlipByte(1000));
        var bytes = await client.GetByteArrayAsync($"v2/library/faults/blobs/{layer.Digest}");
        var expected = await File.ReadAllBytesAsync(layer.LocalPath);
        Assert.Equal(expected.Length, bytes.Length);
        Assert.NotEqual(layer.Digest, Digest(bytes));
        Assert.Equal(expected[1000] ^ 0xFF, bytes[1000]);
        bytes[1000] ^= 0xFF;
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public async Task TruncateAbortsTheBodyOnceThenClears()
    {
        var (proxy, client, layer) = await ProxiedLayerAsync(seed: 12, size: 512 * 1024);
        await using var _ = proxy;
        using var __ = client;
        proxy.SetFault(layer.Digest, Fault.Truncate(100_000) with { Times = 1 });

        using (var response = await client.GetAsync($"v2/library/faults/blobs/{layer.Digest}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(layer.Size, response.Content.Headers.ContentLength);
            await using var body = await response.Content.ReadAsStreamAsync();
            var received = 0L;
            var buffer = new byte[16 * 1024];
            var error = await Record.ExceptionAsync(async () =>
            {
                int n;
                while ((n = await body.ReadAsync(buffer)) > 0) received += n;
            });
            Assert.True(error is IOException or HttpRequestException, $"expected a broken body, got {error?.GetType().Name ?? "a complete one"}");
            Assert.Equal(100_000, received);
        }

        await AssertBlobAsync(client, "library/faults", layer);
        Assert.Equal(2, proxy.CountBlobGets(layer.Digest));
    }

    [Fact]
    public async Task ThrottleSlowsTheBody()
    {
        var (proxy, client, layer) = await ProxiedLayerAsync(seed: 13, size: 512 * 1024);
        await using var _ = proxy;
        using var __ = client;
        const double rate = 512 * 1024;
        proxy.SetFault(Fault.Throttle((long)rate));
        var clock = Stopwatch.StartNew();
        await AssertBlobAsync(client, "library/faults", layer);
        // The throttle lets its first chunk (rate / 20) through at once; the rest takes size / rate at least.
        var expected = TimeSpan.FromSeconds((layer.Size - rate / 20) / rate);
        Assert.True(clock.Elapsed >= expected * 0.9, $"took {clock.Elapsed}, expected at least {expected}");
    }

    [Fact]
    public async Task FailAndDownReplaceTheUpstream()
    {
        var (proxy, client, layer) = await ProxiedLayerAsync(seed: 14, size: 4096);
        await using var _ = proxy;
        using var __ = client;

        proxy.SetFault(Fault.Fail(HttpStatusCode.ServiceUnavailable));
        using (var failed = await client.GetAsync($"v2/library/faults/blobs/{layer.Digest}"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            using var error = JsonDocument.Parse(await failed.Content.ReadAsStringAsync());
            Assert.Equal("UNAVAILABLE", error.RootElement.GetProperty("errors")[0].GetProperty("code").GetString());
        }
        proxy.SetFault(layer.Digest, Fault.Fail(HttpStatusCode.NotFound));
        using (var missing = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/library/faults/blobs/{layer.Digest}")))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        proxy.ClearFaults();
        proxy.SetFault(Fault.Down());
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("v2/"));

        proxy.ClearFaults();
        await AssertBlobAsync(client, "library/faults", layer);
    }

    [Fact]
    public async Task HoldSignalsTheGetAndWaitsForRelease()
    {
        var (proxy, client, layer) = await ProxiedLayerAsync(seed: 15, size: 64 * 1024);
        await using var _ = proxy;
        using var __ = client;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        proxy.SetFault(layer.Digest, Fault.Hold(release.Task));

        var get = client.GetByteArrayAsync($"v2/library/faults/blobs/{layer.Digest}");
        var started = await proxy.WaitForBlobGetAsync(layer.Digest, Timeout);
        Assert.IsType<HoldFault>(started.Fault);
        Assert.False(get.IsCompleted);
        release.SetResult();
        Assert.Equal(layer.Digest, Digest(await get.WaitAsync(Timeout)));
    }

    private async Task<(FaultProxy Proxy, HttpClient Client, PushedBlob Layer)> ProxiedLayerAsync(int seed, long size)
    {
        var image = await new ImageBuilder().WithRandomLayer(size, seed).PushAsync(registries.Anonymous, "library/faults", $"seed-{seed}");
        var proxy = await FaultProxy.StartAsync(registries.Anonymous);
        return (proxy, new HttpClient { BaseAddress = proxy.Url, Timeout = Timeout }, image.Layers[0]);
    }

    private static async Task AssertManifestAsync(HttpClient client, string repository, string reference, string mediaType, byte[] expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/{reference}");
        foreach (var accept in ManifestAccept) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Digest(expected), response.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal(expected, await response.Content.ReadAsByteArrayAsync());
    }

    private static async Task AssertBlobAsync(HttpClient client, string repository, PushedBlob blob)
    {
        using var response = await client.GetAsync($"v2/{repository}/blobs/{blob.Digest}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(blob.Size, response.Content.Headers.ContentLength);
        await using var body = await response.Content.ReadAsStreamAsync();
        Assert.Equal(blob.Digest, "sha256:" + Convert.ToHexStringLower(await SHA256.HashDataAsync(body)));
        Assert.Equal(blob.Digest, await DigestOfFileAsync(blob.LocalPath));
    }

    private static async Task<string> DigestOfFileAsync(string path)
    {
        await using var file = File.OpenRead(path);
        return "sha256:" + Convert.ToHexStringLower(await SHA256.HashDataAsync(file));
    }

    private static async Task<string> UncompressedDigestAsync(string path)
    {
        await using var file = File.OpenRead(path);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        return "sha256:" + Convert.ToHexStringLower(await SHA256.HashDataAsync(gzip));
    }

    private sealed record Entry(TarEntryType EntryType, long Length, UnixFileMode Mode, string LinkName);

    private static async Task<Dictionary<string, Entry>> TarEntriesAsync(string path)
    {
        await using var file = File.OpenRead(path);
        await using var gzip = new GZipStream(file, CompressionMode.Decompress);
        await using var tar = new TarReader(gzip);
        var entries = new Dictionary<string, Entry>();
        while (await tar.GetNextEntryAsync() is { } entry) entries[entry.Name] = new Entry(entry.EntryType, entry.Length, entry.Mode, entry.LinkName);
        return entries;
    }

    private static string Digest(byte[] bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    private static byte[] Base64UrlDecode(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }
}
