namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// Podman (Debian's 4.3) as root with private storage (vfs), run root, tmp dir, containers.conf, storage.conf,
/// signature policy and a registries.conf (<c>CONTAINERS_REGISTRIES_CONF</c>) that sends each registry's pulls to a
/// plain-HTTP mirror first. Nothing under the host's /etc/containers or /var/lib/containers is used.
/// <c>podman run</c> does not work on these machines (no CAP_SYS_RESOURCE), so only image commands are offered.
/// </summary>
public sealed class Podman : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    private readonly TempDir _dir;
    private readonly Dictionary<string, string?> _environment;

    private Podman(TempDir dir)
    {
        _dir = dir;
        _environment = new Dictionary<string, string?>
        {
            ["CONTAINERS_REGISTRIES_CONF"] = dir.Combine("registries.conf"),
            ["CONTAINERS_CONF"] = dir.Combine("containers.conf"),
            ["CONTAINERS_STORAGE_CONF"] = dir.Combine("storage.conf"),
            ["TMPDIR"] = dir.Combine("tmp"),
            ["XDG_RUNTIME_DIR"] = null,
            ["XDG_CONFIG_HOME"] = dir.Combine("config"),
        };
    }

    /// <summary>The registries.conf in use.</summary>
    public string RegistriesConfPath => _dir.Combine("registries.conf");

    /// <summary>Creates the configuration for the given mirrors (e.g. <see cref="RegistryMirror.OnPort"/> for docker.io and ghcr.io).</summary>
    public static Podman Create(IEnumerable<RegistryMirror> mirrors)
    {
        var dir = new TempDir("podman");
        Directory.CreateDirectory(dir.Combine("tmp"));
        Directory.CreateDirectory(dir.Combine("config"));
        RegistryMirror.WriteRegistriesConf(dir.Combine("registries.conf"), mirrors);
        RegistryMirror.WritePermissivePolicy(dir.Combine("policy.json"));
        File.WriteAllText(dir.Combine("storage.conf"), $"""
            [storage]
            driver = "vfs"
            graphroot = "{dir.Combine("root")}"
            runroot = "{dir.Combine("run")}"
            """);
        // cgroupfs and a file event log: there is no systemd to talk to on these machines.
        File.WriteAllText(dir.Combine("containers.conf"), """
            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            """);
        return new Podman(dir);
    }

    /// <summary><c>podman pull <paramref name="reference"/></c> (fully qualified, e.g. <c>docker.io/library/busybox:1.36</c>).</summary>
    public Task<(int ExitCode, string Output)> PullAsync(string reference) =>
        PodmanAsync("pull", "--signature-policy", _dir.Combine("policy.json"), reference);

    /// <summary><c>podman image inspect <paramref name="reference"/></c>.</summary>
    public Task<(int ExitCode, string Output)> ImageInspectAsync(string reference) => PodmanAsync("image", "inspect", reference);

    /// <summary>Runs any podman command with this configuration.</summary>
    public Task<(int ExitCode, string Output)> PodmanAsync(params string[] args) =>
        ChildProcess.RunAsync(HostTools.Find("podman"),
            ["--root", _dir.Combine("root"), "--runroot", _dir.Combine("run"), "--tmpdir", _dir.Combine("libpod-tmp"),
             "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file", .. args],
            CommandTimeout, workingDirectory: _dir.Path, environment: _environment);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await HostTools.UnmountBelowAsync(_dir.Path);
        _dir.Dispose();
    }
}
