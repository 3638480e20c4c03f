using System.Net;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Embedded;

/// <summary>Tag answers: cached within the TTL, revalidated with HEAD after it, last good answer when the upstream is down.</summary>
public sealed class TagCacheTests : IAsyncLifetime
{
    private UpstreamRegistry _upstream = null!;
    private FaultProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _upstream = await UpstreamRegistry.StartAnonymousAsync();
        _proxy = await FaultProxy.StartAsync(_upstream);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private Dictionary<string, string> Settings(string ttl) => new()
    {
        ["Upstreams:docker.io:Url"] = _proxy.Url.ToString().TrimEnd('/'),
        ["TagTtl"] = ttl,
    };

    private int ManifestGets(string repo, string tag) => _proxy.Count("GET", $"/v2/{repo}/manifests/{tag}");
    private int ManifestHeads(string repo, string tag) => _proxy.Count("HEAD", $"/v2/{repo}/manifests/{tag}");

    [Fact]
    public async Task WithinTheTtlTheUpstreamIsNotAsked()
    {
        await new ImageBuilder().WithRandomLayer(1000, seed: 201).PushAsync(_upstream, "library/ttl", "v1");
        await using var mirror = await MirrorProcess.StartFrontendAsync(Settings("00:10:00"));
        using var client = Http.Client(mirror.Url);
        for (var i = 0; i < 20; i++)
        {
            using var r = await Http.ManifestAsync(client, "ttl", "v1");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        Assert.Equal(1, ManifestGets("library/ttl", "v1"));
        Assert.Equal(0, ManifestHeads("library/ttl", "v1"));
        Assert.Equal(1, await mirror.UpstreamRequestsAsync("manifest_get"));
    }

    [Fact]
    public async Task AfterTheTtlAHeadRevalidatesAndOnlyAChangedDigestIsFetched()
    {
        var first = await new ImageBuilder().WithRandomLayer(1000, seed: 211).PushAsync(_upstream, "library/moving", "v1");
        await using var mirror = await MirrorProcess.StartFrontendAsync(Settings("00:00:01"));
        using var client = Http.Client(mirror.Url);
        Assert.Equal(first.Digest, await DigestOfAsync(client));

        // Keep asking until the TTL has run out and the mirror revalidated with a HEAD.
        await MirrorProcess.WaitUntilAsync(async () =>
        {
            Assert.Equal(first.Digest, await DigestOfAsync(client));
            return ManifestHeads("library/moving", "v1") >= 1;
        }, TimeSpan.FromSeconds(30), "revalidation HEAD");
        Assert.Equal(1, ManifestGets("library/moving", "v1"));

        var second = await new ImageBuilder().WithRandomLayer(1000, seed: 212).PushAsync(_upstream, "library/moving", "v1");
        await MirrorProcess.WaitUntilAsync(async () => await DigestOfAsync(client) == second.Digest, TimeSpan.FromSeconds(30), "new digest");
        Assert.Equal(2, ManifestGets("library/moving", "v1"));

        async Task<string> DigestOfAsync(HttpClient c)
        {
            using var r = await Http.ManifestAsync(c, "moving", "v1");
            r.EnsureSuccessStatusCode();
            return r.Headers.GetValues("Docker-Content-Digest").Single();
        }
    }

    [Theory]
    [InlineData("down")]
    [InlineData("503")]
    [InlineData("429")]
    public async Task WhenTheUpstreamFailsTheLastGoodAnswerIsServed(string failure)
    {
        var repo = $"library/stale-{failure}";
        var image = await new ImageBuilder().WithRandomLayer(1000, seed: 221).PushAsync(_upstream, repo, "v1");
        await using var mirror = await MirrorProcess.StartFrontendAsync(Settings("00:00:01"));
        using var client = Http.Client(mirror.Url);
        using (var warm = await Http.ManifestAsync(client, repo[8..], "v1")) warm.EnsureSuccessStatusCode();

        _proxy.SetFault(failure switch
        {
            "down" => Fault.Down(),
            "503" => Fault.Fail(HttpStatusCode.ServiceUnavailable),
            _ => Fault.Fail(HttpStatusCode.TooManyRequests, "TOOMANYREQUESTS"),
        });
        try
        {
            var headsBefore = _proxy.Requests.Count;
            await MirrorProcess.WaitUntilAsync(async () =>
            {
                using var r = await Http.ManifestAsync(client, repo[8..], "v1");
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Equal(image.ManifestBytes, await r.Content.ReadAsByteArrayAsync());
                return await mirror.MetricAsync("mirror_manifest_requests_total", "result=\"stale\"") >= 1;
            }, TimeSpan.FromSeconds(30), "stale answer");
            Assert.True(_proxy.Requests.Count > headsBefore, "the mirror did try the upstream");
            await mirror.Process.WaitForOutputAsync(l => l.Contains("Serving last good manifest"), TimeSpan.FromSeconds(5));
        }
        finally
        {
            _proxy.ClearFaults();
        }
    }

    [Fact]
    public async Task ATagDeletedUpstreamIsNoLongerServed()
    {
        var image = await new ImageBuilder().WithRandomLayer(1000, seed: 231).PushAsync(_upstream, "library/deleted", "v1");
        await using var mirror = await MirrorProcess.StartFrontendAsync(Settings("00:00:01"));
        using var client = Http.Client(mirror.Url);
        using (var warm = await Http.ManifestAsync(client, "deleted", "v1")) warm.EnsureSuccessStatusCode();
        await _upstream.DeleteManifestAsync("library/deleted", image.Digest);
        await MirrorProcess.WaitUntilAsync(async () =>
        {
            using var r = await Http.ManifestAsync(client, "deleted", "v1");
            return r.StatusCode == HttpStatusCode.NotFound && await Http.ErrorCodeAsync(r) == "MANIFEST_UNKNOWN";
        }, TimeSpan.FromSeconds(30), "404 after deletion");
    }
}
