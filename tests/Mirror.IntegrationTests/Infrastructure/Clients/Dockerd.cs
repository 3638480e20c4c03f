using System.Net.Sockets;
using System.Text.Json;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// A private Docker Engine (Debian's docker.io, 20.10) whose only way to Docker Hub is the registry mirror the
/// test gives it. Everything it owns lives in a fresh directory: data root (vfs storage driver), exec root, pid
/// file, API socket, and the containerd that dockerd spawns for itself (socket and state under the exec root,
/// content under the data root), so several instances can run side by side. No bridge, no iptables: containers
/// run with <c>--network none</c>. Commands go through the <c>docker</c> CLI with a private config directory.
/// </summary>
public sealed class Dockerd : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);
    private const int MaxUnixSocketPath = 100;

    private readonly TempDir _dir;
    private readonly ChildProcess _process;

    private Dockerd(TempDir dir, ChildProcess process, string socketPath)
    {
        _dir = dir;
        _process = process;
        SocketPath = socketPath;
    }

    /// <summary>Path of the Engine API's unix socket.</summary>
    public string SocketPath { get; }

    /// <summary>The <c>-H</c> value for the docker CLI: <c>unix:///…/docker.sock</c>.</summary>
    public string Host => $"unix://{SocketPath}";

    /// <summary>Everything dockerd has logged so far.</summary>
    public string Output => _process.Output;

    /// <summary>Starts dockerd with <c>registry-mirrors: [<paramref name="registryMirror"/>]</c> (e.g. <c>http://127.0.0.1:5000</c>).</summary>
    public static async Task<Dockerd> CreateAsync(string registryMirror)
    {
        var dir = new TempDir("dockerd");
        var socket = dir.Combine("docker.sock");
        if (socket.Length >= MaxUnixSocketPath)
        {
            dir.Dispose();
            throw new InvalidOperationException($"unix socket path too long ({socket.Length} chars): {socket}; shorten MIRROR_TEST_ROOT");
        }
        var config = new Dictionary<string, object>
        {
            ["registry-mirrors"] = new[] { registryMirror },
            ["storage-driver"] = "vfs",
            ["iptables"] = false,
            ["ip-forward"] = false,
            ["ip-masq"] = false,
            ["bridge"] = "none",
            ["data-root"] = dir.Combine("data"),
            ["exec-root"] = dir.Combine("exec"),
            ["pidfile"] = dir.Combine("docker.pid"),
            // 20.10 otherwise writes its trust key to /etc/docker/key.json on the host.
            ["deprecated-key-path"] = dir.Combine("key.json"),
            ["hosts"] = new[] { $"unix://{socket}" },
            ["log-level"] = "info",
        };
        var configPath = dir.Combine("daemon.json");
        File.WriteAllText(configPath, JsonSerializer.Serialize(config));

        // No "containerd" setting: dockerd then starts a containerd of its own with config, socket and state
        // under exec-root and content under data-root, so instances share nothing.
        var process = ChildProcess.Start(HostTools.Find("dockerd"), ["--config-file", configPath],
            dir.Combine("dockerd.log"), workingDirectory: dir.Path,
            environment: new Dictionary<string, string?> { ["DOCKER_CONFIG"] = dir.Combine("cli") });
        var dockerd = new Dockerd(dir, process, socket);
        try
        {
            using var client = UnixSocketClient(socket);
            await process.WaitUntilAsync(async () =>
            {
                using var response = await client.GetAsync("http://docker/_ping");
                return response.IsSuccessStatusCode;
            }, StartTimeout, "dockerd /_ping");
            return dockerd;
        }
        catch
        {
            await dockerd.DisposeAsync();
            throw;
        }
    }

    /// <summary><c>docker pull <paramref name="image"/></c>.</summary>
    public Task<(int ExitCode, string Output)> PullAsync(string image) => DockerAsync("pull", image);

    /// <summary><c>docker run --rm --network none <paramref name="image"/> <paramref name="args"/></c>.</summary>
    public Task<(int ExitCode, string Output)> RunAsync(string image, params string[] args) =>
        DockerAsync(["run", "--rm", "--network", "none", image, .. args]);

    /// <summary><c>docker image inspect <paramref name="image"/></c> (JSON array on success).</summary>
    public Task<(int ExitCode, string Output)> ImageInspectAsync(string image) => DockerAsync("image", "inspect", image);

    /// <summary>Runs any docker CLI command against this daemon.</summary>
    public Task<(int ExitCode, string Output)> DockerAsync(params string[] args) =>
        ChildProcess.RunAsync(HostTools.Find("docker"), ["-H", Host, .. args], CommandTimeout,
            workingDirectory: _dir.Path,
            environment: new Dictionary<string, string?> { ["DOCKER_CONFIG"] = _dir.Combine("cli") });

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // SIGTERM lets dockerd stop its containerd and undo its data-root bind mount.
        await HostTools.StopGracefullyAsync(_process, TimeSpan.FromSeconds(30));
        await HostTools.UnmountBelowAsync(_dir.Path);
        _dir.Dispose();
    }

    private static HttpClient UnixSocketClient(string socketPath) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { Timeout = TimeSpan.FromSeconds(5) };
}
