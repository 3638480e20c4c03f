using System.Text.Json;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Clients;

/// <summary>
/// Docker Engine 20.10 with <c>registry-mirrors: ["http://127.0.0.1:PORT"]</c> pulls Docker Hub images through the
/// mirror. dockerd falls back to registry-1.docker.io on any mirror error (which fails with "no such host" here), so
/// every pull is checked in the mirror's own request log and in what its upstream saw, never by exit code alone.
/// </summary>
[Collection(ClientsCollection.Name)]
public sealed class DockerTests(ClientsFixture f)
{
    [Theory]
    [InlineData(ManifestFormat.Docker, 4101)]
    [InlineData(ManifestFormat.Oci, 4102)]
    public async Task PullsImageThroughRegistryMirrorAndRunsIt(ManifestFormat format, int seed)
    {
        var name = $"library/docker-{format.ToString().ToLowerInvariant()}";
        var image = await new ImageBuilder().WithFormat(format).WithRunnableLayer().WithRandomLayer(300 * 1024, seed)
            .WithCmd("/bin/echo", "default").PushAsync(f.Hub, name, "1.0");
        var docker = await f.DockerdAsync();

        var pull = await docker.PullAsync($"docker.io/{name}:1.0");

        Assert.True(pull.ExitCode == 0, pull.Output + "\n--- dockerd:\n" + docker.Output);
        Assert.Contains($"Digest: {image.Digest}", pull.Output);
        await AssertPulledFromMirrorAsync(name, "1.0", image);
        var unique = image.Layers[1];
        Assert.Equal(1, f.HubProxy.CountBlobGets(unique.Digest));

        var run = await docker.RunAsync($"{name}:1.0", "echo", "hello");
        Assert.True(run.ExitCode == 0, run.Output + "\n--- dockerd:\n" + docker.Output);
        Assert.Equal("hello", run.Output.Trim());
    }

    [Fact]
    public async Task PicksLinuxAmd64FromManifestListAndRunsIt()
    {
        const string name = "library/docker-multi";
        var index = await ImageBuilder.PushIndexAsync(f.Hub, name, "1.0", ManifestFormat.Docker,
        [
            new ImageBuilder().WithPlatform("arm64", variant: "v8").WithRunnableLayer().WithRandomLayer(200 * 1024, seed: 4112),
            new ImageBuilder().WithPlatform("amd64").WithRunnableLayer().WithRandomLayer(200 * 1024, seed: 4111),
        ]);
        var arm = index.Children[0];
        var amd = index.Children[1];
        var docker = await f.DockerdAsync();

        var pull = await docker.PullAsync($"docker.io/{name}:1.0");

        Assert.True(pull.ExitCode == 0, pull.Output + "\n--- dockerd:\n" + docker.Output);
        Assert.Contains($"Digest: {index.Digest}", pull.Output);
        await f.ServedAsync("HEAD", $"/v2/{name}/manifests/1.0", 200);
        await f.ServedAsync("GET", $"/v2/{name}/manifests/{index.Digest}", 200);
        await f.ServedAsync("GET", $"/v2/{name}/manifests/{amd.Digest}", 200);
        foreach (var blob in ClientsFixture.NewBlobs(amd)) await f.ServedAsync("GET", $"/v2/{name}/blobs/{blob.Digest}", 200);
        // The arm64 image was never asked for, neither from the mirror nor by the mirror.
        Assert.Empty(f.Served(arm.Digest));
        Assert.Empty(f.Served(arm.Layers[1].Digest));
        Assert.Equal(0, f.HubProxy.Count("GET", p => p.EndsWith(arm.Digest, StringComparison.Ordinal)));
        Assert.Equal(0, f.HubProxy.CountBlobGets(arm.Layers[1].Digest));
        Assert.Equal(1, f.HubProxy.CountBlobGets(amd.Layers[1].Digest));

        var inspect = await docker.ImageInspectAsync($"{name}:1.0");
        Assert.True(inspect.ExitCode == 0, inspect.Output);
        using (var json = JsonDocument.Parse(inspect.Output))
        {
            var root = json.RootElement[0];
            Assert.Equal("amd64", root.GetProperty("Architecture").GetString());
            Assert.Equal(amd.Config.Digest, root.GetProperty("Id").GetString());
        }
        var run = await docker.RunAsync($"{name}:1.0", "echo", "hello");
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal("hello", run.Output.Trim());
    }

    [Fact]
    public async Task PullsByDigestAnImageTheMirrorNeverSawByTag()
    {
        const string name = "library/docker-pinned";
        PushedImage image;
        using (var upstream = f.Hub.CreateAuthorizedClient())
        {
            image = await new ImageBuilder().WithRunnableLayer().WithRandomLayer(100 * 1024, seed: 4121).PushAsync(upstream, name, tag: null);
        }
        var docker = await f.DockerdAsync();

        var pull = await docker.PullAsync($"docker.io/{name}@{image.Digest}");

        Assert.True(pull.ExitCode == 0, pull.Output + "\n--- dockerd:\n" + docker.Output);
        await f.ServedAsync("GET", $"/v2/{name}/manifests/{image.Digest}", 200);
        foreach (var blob in ClientsFixture.NewBlobs(image)) await f.ServedAsync("GET", $"/v2/{name}/blobs/{blob.Digest}", 200);
        Assert.Equal(1, f.HubProxy.Count("GET", $"/v2/{name}/manifests/{image.Digest}"));
        Assert.Equal(1, f.HubProxy.CountBlobGets(image.Layers[1].Digest));
        var run = await docker.RunAsync($"{name}@{image.Digest}", "echo", "hello");
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal("hello", run.Output.Trim());
    }

    [Fact]
    public async Task PullsAnotherRegistryThroughThePathPrefixForm()
    {
        // registry-mirrors is for Docker Hub only; for ghcr.io Docker is given the mirror's address as the registry.
        const string name = "org/docker-app";
        var image = await new ImageBuilder().WithRunnableLayer().WithRandomLayer(100 * 1024, seed: 4131).PushAsync(f.Ghcr, name, "1.0");
        var docker = await f.DockerdAsync();

        var pull = await docker.PullAsync($"127.0.0.1:{f.MirrorPort}/ghcr.io/{name}:1.0");

        Assert.True(pull.ExitCode == 0, pull.Output + "\n--- dockerd:\n" + docker.Output);
        Assert.Contains($"Digest: {image.Digest}", pull.Output);
        await f.ServedAsync("HEAD", $"/v2/ghcr.io/{name}/manifests/1.0", 200);
        foreach (var blob in ClientsFixture.NewBlobs(image)) await f.ServedAsync("GET", $"/v2/ghcr.io/{name}/blobs/{blob.Digest}", 200);
        Assert.Equal(1, f.GhcrProxy.CountBlobGets(image.Layers[1].Digest));
        Assert.Equal(0, f.HubProxy.Count("GET", p => p.Contains("docker-app", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task MissingImageFailsAfterTheMirrorAnsweredManifestUnknown()
    {
        const string name = "library/docker-absent";
        var docker = await f.DockerdAsync();
        var manifestGetsBefore = await f.Mirror.UpstreamRequestsAsync("manifest_get");

        var pull = await docker.PullAsync($"docker.io/{name}:nope");

        Assert.NotEqual(0, pull.ExitCode);
        // The mirror was asked first, asked its upstream, and answered 404 to dockerd's HEAD and GET of the tag ...
        await f.ServedAsync("HEAD", $"/v2/{name}/manifests/nope", 404);
        await f.ServedAsync("GET", $"/v2/{name}/manifests/nope", 404);
        Assert.True(f.HubProxy.Count("GET", $"/v2/{name}/manifests/nope") >= 1, "the mirror did not ask its upstream");
        Assert.True(await f.Mirror.UpstreamRequestsAsync("manifest_get") > manifestGetsBefore);
        Assert.DoesNotContain(f.Served($"/v2/{name}/"), l => l.Contains(" - 200 ", StringComparison.Ordinal));
        // ... with MANIFEST_UNKNOWN, which dockerd logged before falling back to registry-1.docker.io (unreachable
        // here, so that text can only have come from the mirror). The same request again shows the body's code.
        var fallback = docker.Output.Split('\n').FirstOrDefault(l => l.Contains("manifest unknown", StringComparison.OrdinalIgnoreCase));
        Assert.True(fallback is not null, "dockerd never saw MANIFEST_UNKNOWN:\n" + docker.Output);
        using var http = Http.Client(f.Mirror.Url);
        using var again = await Http.ManifestAsync(http, name, "nope");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal("MANIFEST_UNKNOWN", await Http.ErrorCodeAsync(again));
    }

    /// <summary>
    /// The mirror's log shows the tag, the manifest and every blob the daemon did not have yet (all but the shared
    /// busybox layer) served with 200, and its upstream saw the tag asked.
    /// </summary>
    private async Task AssertPulledFromMirrorAsync(string name, string tag, PushedImage image)
    {
        await f.ServedAsync("GET", "/v2/ ", 200);
        await f.ServedAsync("HEAD", $"/v2/{name}/manifests/{tag}", 200);
        await f.ServedAsync("GET", $"/v2/{name}/manifests/{image.Digest}", 200);
        foreach (var blob in ClientsFixture.NewBlobs(image)) await f.ServedAsync("GET", $"/v2/{name}/blobs/{blob.Digest}", 200);
        Assert.True(f.HubProxy.Count("GET", $"/v2/{name}/manifests/{tag}") >= 1, "the mirror never asked its upstream for the tag");
    }
}
