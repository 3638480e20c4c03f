using System.Net;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Embedded;

/// <summary>An upstream behind Docker-Hub-style token auth.</summary>
public sealed class UpstreamAuthTests : IAsyncLifetime
{
    private UpstreamRegistry _upstream = null!;

    public async Task InitializeAsync() => _upstream = await UpstreamRegistry.StartWithTokenAuthAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    [Fact]
    public async Task PullsWithConfiguredCredentialsAndCachesTheToken()
    {
        var image = await new ImageBuilder().WithRandomLayer(2 * 1024 * 1024, seed: 301).WithRandomLayer(1000, seed: 302)
            .PushAsync(_upstream, "library/private", "v1");
        await using var mirror = await MirrorProcess.StartFrontendAsync(new Dictionary<string, string>
        {
            ["Upstreams:docker.io:Url"] = _upstream.Url.ToString().TrimEnd('/'),
            ["Upstreams:docker.io:Username"] = _upstream.Username!,
            ["Upstreams:docker.io:Password"] = _upstream.Password!,
        });
        using var client = Http.Client(mirror.Url);
        var tokensBefore = _upstream.TokenServer!.IssuedTokens;
        using (var m = await Http.ManifestAsync(client, "private", "v1"))
        {
            Assert.Equal(HttpStatusCode.OK, m.StatusCode);
            Assert.Equal(image.ManifestBytes, await m.Content.ReadAsByteArrayAsync());
        }
        foreach (var blob in image.Blobs) Assert.Equal(blob.Digest, (await Http.BlobDigestAsync(client, "private", blob.Digest)).Digest);
        // One token for the repository's pull scope, reused for the manifest and every blob.
        Assert.Equal(1, _upstream.TokenServer.IssuedTokens - tokensBefore);
        Assert.All(_upstream.TokenServer.Requests.Skip(tokensBefore), r => Assert.Equal(_upstream.Username, r.User));
    }

    [Fact]
    public async Task WithoutCredentialsTheUpstreamRefusalIsPassedThrough()
    {
        await new ImageBuilder().WithRandomLayer(1000, seed: 311).PushAsync(_upstream, "library/refused", "v1");
        await using var mirror = await MirrorProcess.StartFrontendAsync(new Dictionary<string, string>
        {
            ["Upstreams:docker.io:Url"] = _upstream.Url.ToString().TrimEnd('/'),
        });
        using var client = Http.Client(mirror.Url);
        using var m = await Http.ManifestAsync(client, "refused", "v1");
        Assert.Equal(HttpStatusCode.Unauthorized, m.StatusCode);
        Assert.Equal("UNAUTHORIZED", await Http.ErrorCodeAsync(m));
    }

    [Fact]
    public async Task WrongCredentialsAreRefused()
    {
        await new ImageBuilder().WithRandomLayer(1000, seed: 321).PushAsync(_upstream, "library/wrong", "v1");
        await using var mirror = await MirrorProcess.StartFrontendAsync(new Dictionary<string, string>
        {
            ["Upstreams:docker.io:Url"] = _upstream.Url.ToString().TrimEnd('/'),
            ["Upstreams:docker.io:Username"] = _upstream.Username!,
            ["Upstreams:docker.io:Password"] = "not-the-password",
        });
        using var client = Http.Client(mirror.Url);
        using var m = await Http.ManifestAsync(client, "wrong", "v1");
        Assert.Equal(HttpStatusCode.Unauthorized, m.StatusCode);
    }
}
