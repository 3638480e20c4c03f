using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Embedded;

/// <summary>
/// An upstream that sends every pull to another host with its own token service — as registry.k8s.io sends pulls to
/// Artifact Registry and Docker Hub sends layers to a CDN. The mirror follows, gets the other host's own token, and
/// never hands that host (or its token service) the credentials configured for the registry.
/// </summary>
public sealed class RedirectAuthTests : IAsyncLifetime
{
    private UpstreamRegistry _target = null!;
    private WebApplication _redirector = null!;
    private Uri _redirectorUrl = null!;

    public async Task InitializeAsync()
    {
        _target = await UpstreamRegistry.StartWithTokenAuthAsync(anonymousPull: true);
        (_redirector, _redirectorUrl) = await InProcessServer.StartAsync(context =>
        {
            if (context.Request.Path == "/v2/" || context.Request.Path == "/v2")
            {
                context.Response.StatusCode = 200;
                return Task.CompletedTask;
            }
            context.Response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            context.Response.Headers.Location = new Uri(_target.Url, context.Request.Path + context.Request.QueryString).ToString();
            return Task.CompletedTask;
        });
    }

    public async Task DisposeAsync()
    {
        await _redirector.DisposeAsync();
        await _target.DisposeAsync();
    }

    [Fact]
    public async Task RedirectTargetGetsItsOwnAnonymousTokenAndNeverTheConfiguredCredentials()
    {
        var image = await new ImageBuilder().WithRandomLayer(200_000, seed: 901).PushAsync(_target, "library/moved", "v1");
        var before = _target.TokenServer!.Requests.Count;
        await using var mirror = await MirrorProcess.StartFrontendAsync(new Dictionary<string, string>
        {
            ["Upstreams:docker.io:Url"] = _redirectorUrl.ToString().TrimEnd('/'),
            ["Upstreams:docker.io:Username"] = _target.Username!,
            ["Upstreams:docker.io:Password"] = _target.Password!,
        });
        using var client = Http.Client(mirror.Url);
        using (var m = await Http.ManifestAsync(client, "moved", "v1"))
        {
            Assert.Equal(HttpStatusCode.OK, m.StatusCode);
            Assert.Equal(image.ManifestBytes, await m.Content.ReadAsByteArrayAsync());
        }
        foreach (var blob in image.Blobs) Assert.Equal((blob.Digest, blob.Size), await Http.BlobDigestAsync(client, "moved", blob.Digest));

        var tokenRequests = _target.TokenServer.Requests.Skip(before).ToList();
        Assert.NotEmpty(tokenRequests);
        // The redirect target's token service saw only anonymous requests: the configured credentials stayed home.
        Assert.All(tokenRequests, r => Assert.Null(r.User));
    }
}
