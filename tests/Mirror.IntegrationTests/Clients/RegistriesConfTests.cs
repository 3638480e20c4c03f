using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Clients;

/// <summary>
/// podman 4.3 and skopeo 1.9 with a <c>registries.conf</c> whose <c>[[registry.mirror]]</c> for docker.io is the
/// mirror's root (<c>127.0.0.1:PORT</c>) and for ghcr.io a path prefix (<c>127.0.0.1:PORT/ghcr.io</c>), plus skopeo
/// addressing the mirror directly in the path-prefix form. Both fall back to the real registry on a mirror error,
/// so every pull is checked in the mirror's request log and at the upstream it should have reached.
/// </summary>
[Collection(ClientsCollection.Name)]
public sealed class RegistriesConfTests(ClientsFixture f)
{
    [Fact]
    public async Task PodmanPullsDockerHubAndGhcrThroughRegistriesConfMirrors()
    {
        var hubImage = await new ImageBuilder().WithRunnableLayer().WithRandomLayer(300 * 1024, seed: 4301).PushAsync(f.Hub, "library/podman-hub", "1.0");
        var ghcrImage = await new ImageBuilder().WithFormat(ManifestFormat.Oci).WithRunnableLayer().WithRandomLayer(300 * 1024, seed: 4302)
            .PushAsync(f.Ghcr, "org/podman-app", "1.0");
        var podman = await f.PodmanAsync();

        var hub = await podman.PullAsync("docker.io/library/podman-hub:1.0");
        Assert.True(hub.ExitCode == 0, hub.Output);
        await f.ServedAsync("GET", "/v2/library/podman-hub/manifests/1.0", 200);
        foreach (var blob in ClientsFixture.NewBlobs(hubImage)) await f.ServedAsync("GET", $"/v2/library/podman-hub/blobs/{blob.Digest}", 200);
        Assert.Equal(1, f.HubProxy.CountBlobGets(hubImage.Layers[1].Digest));

        var ghcr = await podman.PullAsync("ghcr.io/org/podman-app:1.0");
        Assert.True(ghcr.ExitCode == 0, ghcr.Output);
        await f.ServedAsync("GET", "/v2/ghcr.io/org/podman-app/manifests/1.0", 200);
        foreach (var blob in ClientsFixture.NewBlobs(ghcrImage)) await f.ServedAsync("GET", $"/v2/ghcr.io/org/podman-app/blobs/{blob.Digest}", 200);
        Assert.Equal(1, f.GhcrProxy.CountBlobGets(ghcrImage.Layers[1].Digest));
        Assert.Equal(0, f.HubProxy.Count("GET", p => p.Contains("podman-app", StringComparison.Ordinal)));

        foreach (var (reference, image) in new[] { ("docker.io/library/podman-hub:1.0", hubImage), ("ghcr.io/org/podman-app:1.0", ghcrImage) })
        {
            var inspect = await podman.ImageInspectAsync(reference);
            Assert.True(inspect.ExitCode == 0, inspect.Output);
            Assert.Contains(image.Digest, inspect.Output);
        }
    }

    [Fact]
    public async Task SkopeoCopiesThroughRegistriesConfMirrorsAndByPathPrefix()
    {
        var hubImage = await new ImageBuilder().WithRandomLayer(200 * 1024, seed: 4311).PushAsync(f.Hub, "library/skopeo-hub", "1.0");
        var ghcrImage = await new ImageBuilder().WithRandomLayer(200 * 1024, seed: 4312).PushAsync(f.Ghcr, "org/skopeo-app", "1.0");
        var directImage = await new ImageBuilder().WithFormat(ManifestFormat.Oci).WithRandomLayer(200 * 1024, seed: 4313)
            .PushAsync(f.Ghcr, "org/skopeo-direct", "2.0");
        var skopeo = await f.SkopeoAsync();

        var hub = await skopeo.CopyAsync("docker.io/library/skopeo-hub:1.0");
        Assert.True(hub.ExitCode == 0, hub.Output);
        await AssertCopiedAsync(hub.Directory, hubImage);
        await f.ServedAsync("GET", "/v2/library/skopeo-hub/manifests/1.0", 200);
        await f.ServedAsync("GET", $"/v2/library/skopeo-hub/blobs/{hubImage.Layers[0].Digest}", 200);
        Assert.Equal(1, f.HubProxy.CountBlobGets(hubImage.Layers[0].Digest));

        var ghcr = await skopeo.CopyAsync("ghcr.io/org/skopeo-app:1.0");
        Assert.True(ghcr.ExitCode == 0, ghcr.Output);
        await AssertCopiedAsync(ghcr.Directory, ghcrImage);
        await f.ServedAsync("GET", "/v2/ghcr.io/org/skopeo-app/manifests/1.0", 200);
        await f.ServedAsync("GET", $"/v2/ghcr.io/org/skopeo-app/blobs/{ghcrImage.Layers[0].Digest}", 200);
        Assert.Equal(1, f.GhcrProxy.CountBlobGets(ghcrImage.Layers[0].Digest));

        // No registries.conf involved: the mirror's own address with the registry as the first path component.
        var direct = await skopeo.CopyDirectAsync($"127.0.0.1:{f.MirrorPort}/ghcr.io/org/skopeo-direct:2.0");
        Assert.True(direct.ExitCode == 0, direct.Output);
        await AssertCopiedAsync(direct.Directory, directImage);
        await f.ServedAsync("GET", "/v2/ghcr.io/org/skopeo-direct/manifests/2.0", 200);
        await f.ServedAsync("GET", $"/v2/ghcr.io/org/skopeo-direct/blobs/{directImage.Layers[0].Digest}", 200);
        Assert.Equal(1, f.GhcrProxy.CountBlobGets(directImage.Layers[0].Digest));
        Assert.Equal(0, f.HubProxy.Count("GET", p => p.Contains("skopeo-direct", StringComparison.Ordinal)));

        // Tags through the path-prefix form, from the upstream behind token auth.
        var tags = await skopeo.SkopeoAsync("list-tags", "--tls-verify=false", $"docker://127.0.0.1:{f.MirrorPort}/ghcr.io/org/skopeo-direct");
        Assert.True(tags.ExitCode == 0, tags.Output);
        using (var json = System.Text.Json.JsonDocument.Parse(tags.Output))
        {
            Assert.Equal(["2.0"], json.RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()));
        }
        await f.ServedAsync("GET", "/v2/ghcr.io/org/skopeo-direct/tags/list", 200);
        Assert.True(f.GhcrProxy.Count("GET", "/v2/org/skopeo-direct/tags/list") >= 1);
    }

    /// <summary>The <c>dir:</c> copy holds the exact manifest and every blob, byte for byte.</summary>
    private static async Task AssertCopiedAsync(string directory, PushedImage image)
    {
        Assert.Equal(image.ManifestBytes, await File.ReadAllBytesAsync(Path.Combine(directory, "manifest.json")));
        foreach (var blob in image.Blobs)
        {
            var file = Path.Combine(directory, blob.Digest["sha256:".Length..]);
            Assert.True(File.Exists(file), $"{blob.Digest} missing from the copy");
            Assert.Equal(blob.Digest, await Http.FileDigestAsync(file));
        }
    }
}
