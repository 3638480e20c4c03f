using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Clients;

/// <summary>
/// Blobs are cached by digest and shared across registries: an image whose layer and config were pushed to both the
/// docker.io and the ghcr.io upstream is pulled from docker.io by containerd, then from ghcr.io by skopeo (a separate
/// client, so nothing is reused on the client side). The bytes come from ghcr.io's upstream zero times.
/// </summary>
[Collection(ClientsCollection.Name)]
public sealed class SharedBlobTests(ClientsFixture f)
{
    [Fact]
    public async Task BlobPulledFromOneRegistryIsNotFetchedAgainForAnother()
    {
        var builder = new ImageBuilder().WithRandomLayer(1024 * 1024, seed: 4501);
        var hubImage = await builder.PushAsync(f.Hub, "library/shared", "1.0");
        var ghcrImage = await builder.PushAsync(f.Ghcr, "org/shared", "1.0");
        Assert.Equal(hubImage.Layers[0].Digest, ghcrImage.Layers[0].Digest);
        var containerd = await f.ContainerdAsync();
        var skopeo = await f.SkopeoAsync();

        var first = await containerd.PullAsync("docker.io/library/shared:1.0");
        Assert.True(first.ExitCode == 0, first.Output);
        foreach (var blob in hubImage.Blobs)
        {
            await f.ServedAsync("GET", $"/v2/library/shared/blobs/{blob.Digest}?ns=docker.io", 200);
            Assert.Equal(1, f.HubProxy.CountBlobGets(blob.Digest));
        }

        var before = await f.UpstreamCountersAsync();
        var fromCacheBefore = await f.Mirror.MetricAsync("mirror_blob_requests_total", "source=\"cache\"");
        var second = await skopeo.CopyAsync("ghcr.io/org/shared:1.0");
        Assert.True(second.ExitCode == 0, second.Output);
        foreach (var blob in ghcrImage.Blobs)
        {
            await f.ServedAsync("GET", $"/v2/ghcr.io/org/shared/blobs/{blob.Digest}", 200);
            Assert.Equal(blob.Digest, await Http.FileDigestAsync(Path.Combine(second.Directory, blob.Digest["sha256:".Length..])));
            // Fetched once in all: never from ghcr.io, at most one access check there.
            Assert.Equal(1, f.HubProxy.CountBlobGets(blob.Digest));
            Assert.Equal(0, f.GhcrProxy.CountBlobGets(blob.Digest));
            Assert.True(f.GhcrProxy.Count("HEAD", p => p.EndsWith("/blobs/" + blob.Digest, StringComparison.Ordinal)) <= 1);
        }
        // ghcr.io was asked for its manifest: that is what grants its repository access to the shared blobs.
        Assert.True(f.GhcrProxy.Count("GET", "/v2/org/shared/manifests/1.0") >= 1);
        var after = await f.UpstreamCountersAsync();
        Assert.Equal(0, ContainerdTests.Delta(before, after, "registry=\"ghcr.io\",kind=\"blob_get\""));
        Assert.Equal(0, ContainerdTests.Delta(before, after, "registry=\"docker.io\",kind=\"blob_get\""));
        Assert.True(await f.Mirror.MetricAsync("mirror_blob_requests_total", "source=\"cache\"") - fromCacheBefore >= ghcrImage.Blobs.Count);
    }
}
