using System.Net;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Clients;

/// <summary>
/// Only registries on the allow-list are served. quay.io is configured with <c>Enabled=false</c> and its Url points at
/// a listener that would answer (it forwards to a registry holding the image), so a refusal there cannot be an
/// upstream failure in disguise; evil.example.com is not configured at all. Both are refused with 403 DENIED, by
/// <c>?ns=</c> and by path prefix, from real clients and plain HTTP, and the mirror opens no connection for them:
/// the listener sees nothing and the mirror's own upstream-request counters do not move.
/// </summary>
[Collection(ClientsCollection.Name)]
public sealed class AllowListTests(ClientsFixture f)
{
    [Fact]
    public async Task UnlistedAndDisabledRegistriesAreDeniedWithoutAnyOutboundConnection()
    {
        // What the disabled quay.io entry's Url would serve if the mirror asked it.
        var image = await new ImageBuilder().WithRandomLayer(1024, seed: 4401).PushAsync(f.Hub, "org/quay-app", "1.0");
        var containerd = await f.ContainerdAsync();
        var skopeo = await f.SkopeoAsync();
        var before = await f.UpstreamCountersAsync();
        var hubRequests = f.HubProxy.Requests.Count;
        var ghcrRequests = f.GhcrProxy.Requests.Count;

        // containerd sends ?ns=<registry>.
        var quayByNs = await containerd.PullAsync("quay.io/org/quay-app:1.0");
        Assert.NotEqual(0, quayByNs.ExitCode);
        await f.ServedAsync("HEAD", "/v2/org/quay-app/manifests/1.0?ns=quay.io", 403);
        var evilByNs = await containerd.PullAsync("evil.example.com/org/app:1.0");
        Assert.NotEqual(0, evilByNs.ExitCode);
        await f.ServedAsync("HEAD", "/v2/org/app/manifests/1.0?ns=evil.example.com", 403);

        // skopeo addressing the mirror with the registry as a path prefix.
        var quayByPrefix = await skopeo.CopyDirectAsync($"127.0.0.1:{f.MirrorPort}/quay.io/org/quay-app:1.0");
        Assert.NotEqual(0, quayByPrefix.ExitCode);
        await f.ServedAsync("GET", "/v2/quay.io/org/quay-app/manifests/1.0", 403);
        var evilByPrefix = await skopeo.CopyDirectAsync($"127.0.0.1:{f.MirrorPort}/evil.example.com/org/app:1.0");
        Assert.NotEqual(0, evilByPrefix.ExitCode);
        await f.ServedAsync("GET", "/v2/evil.example.com/org/app/manifests/1.0", 403);

        // The answer itself, for manifests, blobs and tag lists, in both forms.
        using var http = Http.Client(f.Mirror.Url);
        string[] paths =
        [
            "/v2/org/quay-app/manifests/1.0?ns=quay.io",
            $"/v2/org/quay-app/blobs/{image.Layers[0].Digest}?ns=quay.io",
            "/v2/org/quay-app/tags/list?ns=quay.io",
            "/v2/quay.io/org/quay-app/manifests/1.0",
            $"/v2/quay.io/org/quay-app/blobs/{image.Layers[0].Digest}",
            "/v2/org/app/manifests/1.0?ns=evil.example.com",
            $"/v2/evil.example.com/org/app/blobs/{image.Layers[0].Digest}",
            "/v2/evil.example.com/org/app/tags/list",
        ];
        foreach (var path in paths)
        {
            using var response = await http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{path}: {(int)response.StatusCode}");
            Assert.Equal("DENIED", await Http.ErrorCodeAsync(response));
        }

        // No connection for any of it: the listener behind quay.io saw nothing, the mirror counted no upstream request
        // of any kind for any registry, and the two real upstreams saw nothing either.
        Assert.Empty(f.QuayProxy.Requests);
        var after = await f.UpstreamCountersAsync();
        Assert.Equal(before, after);
        Assert.DoesNotContain(after.Keys, k => k.Contains("quay.io") || k.Contains("evil.example.com"));
        Assert.Equal(hubRequests, f.HubProxy.Requests.Count);
        Assert.Equal(ghcrRequests, f.GhcrProxy.Requests.Count);
    }
}
