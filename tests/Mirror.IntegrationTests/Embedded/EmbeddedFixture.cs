using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Embedded;

/// <summary>A real upstream registry behind a fault proxy, and an embedded mirror (one Frontend process) in front of it.</summary>
public sealed class EmbeddedFixture : IAsyncLifetime
{
    /// <summary>The upstream registry standing in for docker.io.</summary>
    public UpstreamRegistry Upstream { get; private set; } = null!;

    /// <summary>The proxy between the mirror and the upstream: counts requests and injects faults.</summary>
    public FaultProxy Proxy { get; private set; } = null!;

    /// <summary>The mirror under test.</summary>
    public MirrorProcess Mirror { get; private set; } = null!;

    /// <summary>An HTTP client for the mirror.</summary>
    public HttpClient Client { get; private set; } = null!;

    /// <summary>Settings that point a mirror at the proxy as docker.io.</summary>
    public Dictionary<string, string> Settings(params (string Key, string Value)[] extra)
    {
        var s = new Dictionary<string, string> { ["Upstreams:docker.io:Url"] = Proxy.Url.ToString().TrimEnd('/') };
        foreach (var (k, v) in extra) s[k] = v;
        return s;
    }

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Upstream = await UpstreamRegistry.StartAnonymousAsync();
        Proxy = await FaultProxy.StartAsync(Upstream);
        Mirror = await MirrorProcess.StartFrontendAsync(Settings(("TagTtl", "00:10:00")));
        Client = Http.Client(Mirror.Url);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (Mirror is not null) await Mirror.DisposeAsync();
        if (Proxy is not null) await Proxy.DisposeAsync();
        if (Upstream is not null) await Upstream.DisposeAsync();
    }
}
