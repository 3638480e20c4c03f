namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// A private containerd (Debian's 1.6) with its own root, state and sockets in a fresh directory and the CRI plugin
/// disabled, driven with <c>ctr</c>. Pulls go through <c>--hosts-dir</c>: for the registry of each reference
/// (<c>docker.io</c>, <c>ghcr.io</c>, …) the fixture writes <c>HOSTS/&lt;registry&gt;/hosts.toml</c> pointing at the
/// plain-HTTP mirror with capabilities pull and resolve. containerd sends <c>?ns=&lt;registry&gt;</c> on every request
/// and does not ping <c>/v2/</c>.
/// </summary>
public sealed class Containerd : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    private readonly TempDir _dir;
    private readonly ChildProcess _process;
    private readonly string _mirrorUrl;

    private Containerd(TempDir dir, ChildProcess process, string mirrorUrl)
    {
        _dir = dir;
        _process = process;
        _mirrorUrl = mirrorUrl;
    }

    /// <summary>Path of containerd's gRPC socket (the <c>-a</c> of ctr).</summary>
    public string SocketPath => _dir.Combine("c.sock");

    /// <summary>The <c>--hosts-dir</c> directory.</summary>
    public string HostsDir => _dir.Combine("hosts");

    /// <summary>Everything containerd has logged so far.</summary>
    public string Output => _process.Output;

    /// <summary>Starts containerd; pulls will go to the mirror at <paramref name="mirrorUrl"/> (e.g. <c>http://127.0.0.1:5000</c>).</summary>
    public static async Task<Containerd> CreateAsync(string mirrorUrl)
    {
        var dir = new TempDir("ctrd");
        var configPath = dir.Combine("config.toml");
        File.WriteAllText(configPath, $"""
            version = 2
            root = "{dir.Combine("root")}"
            state = "{dir.Combine("state")}"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]

            [grpc]
              address = "{dir.Combine("c.sock")}"

            [ttrpc]
              address = "{dir.Combine("c.sock.ttrpc")}"

            [debug]
              address = ""

            [metrics]
              address = ""
            """);
        var process = ChildProcess.Start(HostTools.Find("containerd"), ["--config", configPath],
            dir.Combine("containerd.log"), workingDirectory: dir.Path);
        var containerd = new Containerd(dir, process, mirrorUrl.TrimEnd('/'));
        try
        {
            await process.WaitUntilAsync(async () =>
            {
                if (!File.Exists(containerd.SocketPath)) return false;
                var (exitCode, _) = await containerd.CtrAsync("version");
                return exitCode == 0;
            }, StartTimeout, "containerd");
            return containerd;
        }
        catch
        {
            await containerd.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// <c>ctr images pull --hosts-dir HOSTS [--platform P | --all-platforms] <paramref name="reference"/></c>, where the
    /// reference is fully qualified (<c>docker.io/library/busybox:1.36</c>) and its registry is mapped to the mirror.
    /// Layers are unpacked with the native snapshotter (no overlay mounts).
    /// </summary>
    public Task<(int ExitCode, string Output)> PullAsync(string reference, string? platform = null, bool allPlatforms = false)
    {
        MapRegistry(reference.Split('/')[0]);
        List<string> args = ["images", "pull", "--hosts-dir", HostsDir, "--snapshotter", "native"];
        if (platform is not null) args.AddRange(["--platform", platform]);
        if (allPlatforms) args.Add("--all-platforms");
        args.Add(reference);
        return CtrAsync([.. args]);
    }

    /// <summary>Writes <c>HOSTS/<paramref name="registry"/>/hosts.toml</c> sending that registry's pulls to the mirror.</summary>
    public void MapRegistry(string registry)
    {
        var dir = Path.Combine(HostsDir, registry);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "hosts.toml"), $"""
            server = "https://{registry}"

            [host."{_mirrorUrl}"]
              capabilities = ["pull", "resolve"]
            """);
    }

    /// <summary>Runs any ctr command against this containerd.</summary>
    public Task<(int ExitCode, string Output)> CtrAsync(params string[] args) =>
        ChildProcess.RunAsync(HostTools.Find("ctr"), ["-a", SocketPath, .. args], CommandTimeout, workingDirectory: _dir.Path);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await HostTools.StopGracefullyAsync(_process, TimeSpan.FromSeconds(30));
        await HostTools.UnmountBelowAsync(_dir.Path);
        _dir.Dispose();
    }
}
