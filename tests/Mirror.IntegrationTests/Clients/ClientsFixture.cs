using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Clients;

/// <summary>
/// The test classes that drive real clients through one mirror. They share its fixture and run one after another, so
/// that each test may read the mirror's counters before and after its own pulls and see only what it caused.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ClientsCollection : ICollectionFixture<ClientsFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Clients";
}

/// <summary>
/// One embedded mirror (a real Frontend process) with two upstreams, each behind a <see cref="FaultProxy"/> that counts
/// what the mirror asked it:
/// <list type="bullet">
/// <item><c>docker.io</c>: an anonymous registry (<see cref="Hub"/> behind <see cref="HubProxy"/>);</item>
/// <item><c>ghcr.io</c>: a registry behind token auth whose credentials only the mirror has (<see cref="Ghcr"/> behind
/// <see cref="GhcrProxy"/>);</item>
/// <item><c>gcr.io</c>: the ghcr.io stand-in again (same registry, same credentials) behind its own proxy
/// <see cref="GcrProxy"/>, for repository names whose first component has a dot (domain-scoped projects);</item>
/// <item><c>quay.io</c>: configured but disabled, its Url pointing at <see cref="QuayProxy"/>, a listener that would
/// answer (it forwards to the docker.io registry) and counts every connection attempt that reaches it.</item>
/// </list>
/// Clients (dockerd, containerd, podman, skopeo) are started on first use and live as long as the fixture.
/// </summary>
public sealed class ClientsFixture : IAsyncLifetime
{
    /// <summary>How long a log line the mirror is about to print may take to appear.</summary>
    private static readonly TimeSpan LogDeadline = TimeSpan.FromSeconds(15);

    private readonly SemaphoreSlim _clientsGate = new(1, 1);
    private Dockerd? _dockerd;
    private Containerd? _containerd;
    private Podman? _podman;
    private Skopeo? _skopeo;

    /// <summary>The registry standing in for Docker Hub (anonymous).</summary>
    public UpstreamRegistry Hub { get; private set; } = null!;

    /// <summary>Between the mirror and <see cref="Hub"/>.</summary>
    public FaultProxy HubProxy { get; private set; } = null!;

    /// <summary>The registry standing in for ghcr.io (token auth; only the mirror holds the credentials).</summary>
    public UpstreamRegistry Ghcr { get; private set; } = null!;

    /// <summary>Between the mirror and <see cref="Ghcr"/>.</summary>
    public FaultProxy GhcrProxy { get; private set; } = null!;

    /// <summary>Between the mirror and <see cref="Ghcr"/> when it is asked as gcr.io.</summary>
    public FaultProxy GcrProxy { get; private set; } = null!;

    /// <summary>Where the disabled quay.io entry points: any request reaching it is a connection the mirror must not open.</summary>
    public FaultProxy QuayProxy { get; private set; } = null!;

    /// <summary>The mirror under test.</summary>
    public MirrorProcess Mirror { get; private set; } = null!;

    /// <summary>The mirror's port on 127.0.0.1.</summary>
    public int MirrorPort => Mirror.Url.Port;

    /// <summary>The mirror's base URL without a trailing slash, as clients' settings want it.</summary>
    public string MirrorUrl => Mirror.Url.ToString().TrimEnd('/');

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var hub = UpstreamRegistry.StartAnonymousAsync();
        var ghcr = UpstreamRegistry.StartWithTokenAuthAsync();
        Hub = await hub;
        Ghcr = await ghcr;
        HubProxy = await FaultProxy.StartAsync(Hub);
        GhcrProxy = await FaultProxy.StartAsync(Ghcr);
        GcrProxy = await FaultProxy.StartAsync(Ghcr);
        QuayProxy = await FaultProxy.StartAsync(Hub.Url);
        Mirror = await MirrorProcess.StartFrontendAsync(new Dictionary<string, string>
        {
            ["Upstreams:docker.io:Url"] = HubProxy.Url.ToString().TrimEnd('/'),
            ["Upstreams:ghcr.io:Url"] = GhcrProxy.Url.ToString().TrimEnd('/'),
            ["Upstreams:ghcr.io:Username"] = Ghcr.Username!,
            ["Upstreams:ghcr.io:Password"] = Ghcr.Password!,
            ["Upstreams:gcr.io:Url"] = GcrProxy.Url.ToString().TrimEnd('/'),
            ["Upstreams:gcr.io:Username"] = Ghcr.Username!,
            ["Upstreams:gcr.io:Password"] = Ghcr.Password!,
            ["Upstreams:quay.io:Url"] = QuayProxy.Url.ToString().TrimEnd('/'),
            ["Upstreams:quay.io:Enabled"] = "false",
            ["TagTtl"] = "00:10:00",
        });
    }

    /// <summary>The Docker Engine, configured with <c>registry-mirrors: [mirror]</c>.</summary>
    public Task<Dockerd> DockerdAsync() => GetAsync(() => _dockerd, async () => _dockerd = await Dockerd.CreateAsync(MirrorUrl));

    /// <summary>containerd, with a hosts.toml per registry pointing at the mirror.</summary>
    public Task<Containerd> ContainerdAsync() => GetAsync(() => _containerd, async () => _containerd = await Containerd.CreateAsync(MirrorUrl));

    /// <summary>podman, with registries.conf mirrors for docker.io (root) and ghcr.io (path prefix).</summary>
    public Task<Podman> PodmanAsync() => GetAsync(() => _podman, () => Task.FromResult(_podman = Podman.Create(RegistriesConfMirrors())));

    /// <summary>skopeo, with the same registries.conf mirrors as podman.</summary>
    public Task<Skopeo> SkopeoAsync() => GetAsync(() => _skopeo, () => Task.FromResult(_skopeo = Skopeo.Create(RegistriesConfMirrors())));

    private RegistryMirror[] RegistriesConfMirrors() =>
        [RegistryMirror.OnPort("docker.io", MirrorPort), RegistryMirror.OnPort("ghcr.io", MirrorPort)];

    private async Task<T> GetAsync<T>(Func<T?> existing, Func<Task<T>> create) where T : class
    {
        await _clientsGate.WaitAsync();
        try { return existing() ?? await create(); }
        finally { _clientsGate.Release(); }
    }

    /// <summary>
    /// Waits for the mirror's request log to show <paramref name="method"/> (any method when null) of a URL containing
    /// <paramref name="pathPart"/> answered with <paramref name="status"/>, and returns that line.
    /// </summary>
    public async Task<string> ServedAsync(string? method, string pathPart, int status)
    {
        bool Match(string line) => line.Contains("Request finished", StringComparison.Ordinal)
                                   && (method is null || line.Contains($" {method} ", StringComparison.Ordinal))
                                   && line.Contains(pathPart, StringComparison.Ordinal)
                                   && line.Contains($" - {status} ", StringComparison.Ordinal);
        try
        {
            await Mirror.Process.WaitForOutputAsync(Match, LogDeadline);
        }
        catch (TimeoutException)
        {
            var seen = Mirror.ServedRequests(pathPart);
            throw new Xunit.Sdk.XunitException(
                $"the mirror never logged {method} {pathPart} -> {status}; its lines for that path:\n{string.Join('\n', seen)}");
        }
        return Mirror.ServedRequests(pathPart).First(Match);
    }

    /// <summary>
    /// The config and the top layer of <paramref name="image"/>: what a client that already pulled another image
    /// holds none of. (Its busybox base layer is shared by every runnable image, and a client fetches a blob it has
    /// only once, so only a test's own blobs are sure to be asked for.)
    /// </summary>
    public static IReadOnlyList<PushedBlob> NewBlobs(PushedImage image) => [image.Config, image.Layers[^1]];

    /// <summary>Every request-log line of the mirror for a URL containing <paramref name="pathPart"/>.</summary>
    public IReadOnlyList<string> Served(string pathPart) => Mirror.ServedRequests(pathPart);

    /// <summary>The mirror's upstream-request counters, keyed by their label set (e.g. <c>registry="ghcr.io",kind="blob_get"</c>).</summary>
    public async Task<IReadOnlyDictionary<string, long>> UpstreamCountersAsync()
    {
        const string prefix = "mirror_upstream_requests_total{";
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var text = await client.GetStringAsync(new Uri(Mirror.Url, "/metrics"));
        var counters = new Dictionary<string, long>();
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var close = line.LastIndexOf('}');
            counters[line[prefix.Length..close]] = long.Parse(line[(close + 2)..]);
        }
        return counters;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_dockerd is not null) await _dockerd.DisposeAsync();
        if (_containerd is not null) await _containerd.DisposeAsync();
        if (_podman is not null) await _podman.DisposeAsync();
        if (_skopeo is not null) await _skopeo.DisposeAsync();
        if (Mirror is not null) await Mirror.DisposeAsync();
        if (QuayProxy is not null) await QuayProxy.DisposeAsync();
        if (GcrProxy is not null) await GcrProxy.DisposeAsync();
        if (GhcrProxy is not null) await GhcrProxy.DisposeAsync();
        if (HubProxy is not null) await HubProxy.DisposeAsync();
        if (Ghcr is not null) await Ghcr.DisposeAsync();
        if (Hub is not null) await Hub.DisposeAsync();
        _clientsGate.Dispose();
    }
}
