using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Clients;

/// <summary>
/// containerd 1.6 (<c>ctr images pull --hosts-dir</c>, one <c>hosts.toml</c> per registry pointing at the mirror).
/// containerd names the registry with <c>?ns=</c> on every request, so the same mirror URL serves Docker Hub and
/// ghcr.io; each pull is checked in the mirror's request log (with its <c>ns=</c>) and at the right upstream.
/// </summary>
[Collection(ClientsCollection.Name)]
public sealed class ContainerdTests(ClientsFixture f)
{
    [Fact]
    public async Task PullsDockerHubImageRoutedByNsDockerIo()
    {
        const string name = "library/ctr-hub";
        var image = await new ImageBuilder().WithRunnableLayer().WithRandomLayer(300 * 1024, seed: 4201).PushAsync(f.Hub, name, "1.0");
        var containerd = await f.ContainerdAsync();

        var pull = await containerd.PullAsync($"docker.io/{name}:1.0");

        Assert.True(pull.ExitCode == 0, pull.Output + "\n--- containerd:\n" + containerd.Output);
        await f.ServedAsync("HEAD", $"/v2/{name}/manifests/1.0?ns=docker.io", 200);
        await f.ServedAsync("GET", $"/v2/{name}/manifests/{image.Digest}?ns=docker.io", 200);
        foreach (var blob in ClientsFixture.NewBlobs(image)) await f.ServedAsync("GET", $"/v2/{name}/blobs/{blob.Digest}?ns=docker.io", 200);
        Assert.Equal(1, f.HubProxy.CountBlobGets(image.Layers[1].Digest));
        Assert.Equal(0, f.GhcrProxy.Count("GET", p => p.Contains("ctr-hub", StringComparison.Ordinal)));
        await AssertImageStoredAsync(containerd, $"docker.io/{name}:1.0", image.Digest);
    }

    [Fact]
    public async Task PullsGhcrImageRoutedByNsThroughTheMirrorsCredentials()
    {
        const string name = "org/ctr-app";
        var image = await new ImageBuilder().WithRunnableLayer().WithRandomLayer(300 * 1024, seed: 4211).PushAsync(f.Ghcr, name, "1.0");
        var containerd = await f.ContainerdAsync();
        var before = await f.UpstreamCountersAsync();
        var tokensBefore = f.Ghcr.TokenServer!.Requests.Count;

        var pull = await containerd.PullAsync($"ghcr.io/{name}:1.0");

        Assert.True(pull.ExitCode == 0, pull.Output + "\n--- containerd:\n" + containerd.Output);
        await f.ServedAsync("HEAD", $"/v2/{name}/manifests/1.0?ns=ghcr.io", 200);
        await f.ServedAsync("GET", $"/v2/{name}/manifests/{image.Digest}?ns=ghcr.io", 200);
        foreach (var blob in ClientsFixture.NewBlobs(image)) await f.ServedAsync("GET", $"/v2/{name}/blobs/{blob.Digest}?ns=ghcr.io", 200);
        // Fetched from the ghcr.io upstream (never from docker.io's), with a token issued to the mirror's user.
        Assert.True(f.GhcrProxy.Count("GET", $"/v2/{name}/manifests/1.0") >= 1);
        Assert.Equal(1, f.GhcrProxy.CountBlobGets(image.Layers[1].Digest));
        Assert.Equal(0, f.HubProxy.Count("GET", p => p.Contains("ctr-app", StringComparison.Ordinal)));
        var after = await f.UpstreamCountersAsync();
        Assert.True(Delta(before, after, "registry=\"ghcr.io\",kind=\"blob_get\"") >= 1);
        Assert.Equal(0, Delta(before, after, "registry=\"docker.io\",kind=\"blob_get\""));
        var tokenRequests = f.Ghcr.TokenServer.Requests.Skip(tokensBefore).ToList();
        Assert.NotEmpty(tokenRequests);
        Assert.All(tokenRequests, r => Assert.Equal(f.Ghcr.Username, r.User));
        await AssertImageStoredAsync(containerd, $"ghcr.io/{name}:1.0", image.Digest);
    }

    [Fact]
    public async Task PullsEveryPlatformOfOciIndex()
    {
        const string name = "org/ctr-multi";
        var index = await ImageBuilder.PushIndexAsync(f.Ghcr, name, "1.0", ManifestFormat.Oci,
        [
            new ImageBuilder().WithPlatform("amd64").WithRandomLayer(100 * 1024, seed: 4221),
            new ImageBuilder().WithPlatform("arm64", variant: "v8").WithRandomLayer(100 * 1024, seed: 4222),
        ]);
        var containerd = await f.ContainerdAsync();

        var pull = await containerd.PullAsync($"ghcr.io/{name}:1.0", allPlatforms: true);

        Assert.True(pull.ExitCode == 0, pull.Output + "\n--- containerd:\n" + containerd.Output);
        await f.ServedAsync("GET", $"/v2/{name}/manifests/{index.Digest}?ns=ghcr.io", 200);
        foreach (var child in index.Children)
        {
            await f.ServedAsync("GET", $"/v2/{name}/manifests/{child.Digest}?ns=ghcr.io", 200);
            foreach (var blob in child.Blobs) await f.ServedAsync("GET", $"/v2/{name}/blobs/{blob.Digest}?ns=ghcr.io", 200);
            Assert.Equal(1, f.GhcrProxy.CountBlobGets(child.Layers[0].Digest));
        }
        await AssertImageStoredAsync(containerd, $"ghcr.io/{name}:1.0", index.Digest);
    }

    [Fact]
    public async Task PullsDomainScopedNameRoutedByNsNotByItsDottedFirstComponent()
    {
        // gcr.io/google.com/cloudsdktool/cloud-sdk is the real-world shape: a first component with a dot that is a
        // project, not a registry. containerd sends /v2/google.com/tools/sdk/manifests/1.0?ns=gcr.io.
        const string name = "google.com/tools/sdk";
        var image = await new ImageBuilder().WithRandomLayer(100 * 1024, seed: 4231).PushAsync(f.Ghcr, name, "1.0");
        var containerd = await f.ContainerdAsync();

        var pull = await containerd.PullAsync($"gcr.io/{name}:1.0");

        Assert.True(pull.ExitCode == 0, pull.Output + "\n--- mirror:\n" + string.Join('\n', f.Served("google.com")));
        await f.ServedAsync("HEAD", $"/v2/{name}/manifests/1.0?ns=gcr.io", 200);
        foreach (var blob in image.Blobs) await f.ServedAsync("GET", $"/v2/{name}/blobs/{blob.Digest}?ns=gcr.io", 200);
        Assert.Equal(1, f.GcrProxy.CountBlobGets(image.Layers[0].Digest));
        Assert.True(f.GcrProxy.Count("GET", $"/v2/{name}/manifests/1.0") >= 1);
        await AssertImageStoredAsync(containerd, $"gcr.io/{name}:1.0", image.Digest);
    }

    [Fact]
    public async Task PullsByDigestAnImageTheMirrorNeverSawByTag()
    {
        const string name = "org/ctr-pinned";
        PushedImage image;
        using (var upstream = f.Ghcr.CreateAuthorizedClient())
        {
            image = await new ImageBuilder().WithFormat(ManifestFormat.Oci).WithRandomLayer(100 * 1024, seed: 4241).PushAsync(upstream, name, tag: null);
        }
        var containerd = await f.ContainerdAsync();

        var pull = await containerd.PullAsync($"ghcr.io/{name}@{image.Digest}");

        Assert.True(pull.ExitCode == 0, pull.Output + "\n--- containerd:\n" + containerd.Output);
        await f.ServedAsync(null, $"/v2/{name}/manifests/{image.Digest}?ns=ghcr.io", 200);
        foreach (var blob in image.Blobs) await f.ServedAsync("GET", $"/v2/{name}/blobs/{blob.Digest}?ns=ghcr.io", 200);
        Assert.Equal(1, f.GhcrProxy.CountBlobGets(image.Layers[0].Digest));
        await AssertImageStoredAsync(containerd, $"ghcr.io/{name}@{image.Digest}", image.Digest);
    }

    /// <summary>Delta of one upstream-request counter between two readings.</summary>
    internal static long Delta(IReadOnlyDictionary<string, long> before, IReadOnlyDictionary<string, long> after, string labels) =>
        after.GetValueOrDefault(labels) - before.GetValueOrDefault(labels);

    private static async Task AssertImageStoredAsync(Containerd containerd, string reference, string digest)
    {
        var list = await containerd.CtrAsync("images", "list");
        Assert.True(list.ExitCode == 0, list.Output);
        Assert.Contains(list.Output.Split('\n'), l => l.StartsWith(reference + " ", StringComparison.Ordinal) && l.Contains(digest));
    }
}
