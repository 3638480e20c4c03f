using System.Net;
using System.Text.RegularExpressions;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>A real Frontend or Silo process of the product, started from the solution's build output.</summary>
public sealed partial class MirrorProcess : IAsyncDisposable
{
    private readonly TempDir? _ownDir;

    private MirrorProcess(string kind, ChildProcess process, Uri url, TempDir? ownDir, IReadOnlyDictionary<string, string> settings)
    {
        Kind = kind;
        Process = process;
        Url = url;
        _ownDir = ownDir;
        Settings = settings;
    }

    /// <summary><c>Frontend</c> or <c>Silo</c>.</summary>
    public string Kind { get; }

    /// <summary>The OS process.</summary>
    public ChildProcess Process { get; }

    /// <summary>Where it listens.</summary>
    public Uri Url { get; }

    /// <summary>The settings it was started with (to restart it the same way).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>The repository root (where Mirror.sln is).</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>Build configuration of this test run (Debug or Release), to find the matching product build.</summary>
    private static string Configuration => AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    /// <summary>Path of a product assembly (Frontend.dll or Silo.dll).</summary>
    public static string AssemblyPath(string kind) => Path.Combine(RepositoryRoot, kind, "bin", Configuration, "net10.0", $"{kind}.dll");

    /// <summary>
    /// Starts an embedded mirror (Frontend alone, disk cache) with <paramref name="settings"/> as <c>--Mirror:…</c>
    /// keys (e.g. <c>Upstreams:docker.io:Url</c>). A fresh cache directory is used unless one is given.
    /// </summary>
    public static Task<MirrorProcess> StartFrontendAsync(IReadOnlyDictionary<string, string> settings, int? port = null) =>
        StartAsync("Frontend", settings, port);

    /// <summary>Starts a silo (cluster mode; settings must include the connection string).</summary>
    public static Task<MirrorProcess> StartSiloAsync(IReadOnlyDictionary<string, string> settings, int? port = null) =>
        StartAsync("Silo", settings, port);

    private static async Task<MirrorProcess> StartAsync(string kind, IReadOnlyDictionary<string, string> settings, int? port)
    {
        TempDir? own = null;
        var all = new Dictionary<string, string>(settings);
        if (!all.ContainsKey("CacheDirectory"))
        {
            own = new TempDir(kind.ToLowerInvariant());
            all["CacheDirectory"] = own.Combine("cache");
        }
        var p = port ?? Ports.GetFree();
        var url = new Uri($"http://127.0.0.1:{p}");
        var args = new List<string> { AssemblyPath(kind), "--urls", url.ToString().TrimEnd('/') };
        foreach (var (k, v) in all) args.Add($"--Mirror:{k}={v}");
        var logDir = Path.Combine(TempDir.Root, "logs");
        var process = ChildProcess.Start("dotnet", args, Path.Combine(logDir, $"{kind.ToLowerInvariant()}-{p}.log"),
            environment: new Dictionary<string, string?> { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["DOTNET_gcServer"] = "0" });
        var mirror = new MirrorProcess(kind, process, url, own, all);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await process.WaitUntilAsync(async () =>
        {
            using var r = await client.GetAsync(new Uri(url, "/readyz"));
            return r.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(60), $"{kind} on {url}");
        return mirror;
    }

    /// <summary>Reads a counter from <c>/metrics</c> (0 when absent).</summary>
    public async Task<long> MetricAsync(string name, string labels = "")
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var text = await client.GetStringAsync(new Uri(Url, "/metrics"));
        var wanted = labels.Length == 0 ? name : $"{name}{{{labels}}}";
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(wanted + " ", StringComparison.Ordinal)) return long.Parse(line[(wanted.Length + 1)..]);
        }
        return 0;
    }

    /// <summary>Upstream requests of one kind counted by the mirror itself (its own record of what it did).</summary>
    public Task<long> UpstreamRequestsAsync(string kind, string registry = "docker.io") =>
        MetricAsync("mirror_upstream_requests_total", $"registry=\"{registry}\",kind=\"{kind}\"");

    /// <summary>Lines of this process's log that mention a request for <paramref name="pathPart"/> with a status.</summary>
    public IReadOnlyList<string> ServedRequests(string pathPart) =>
        [.. Process.Output.Split('\n').Where(l => l.Contains("Request finished") && l.Contains(pathPart))];

    /// <summary>Polls <paramref name="condition"/> until true or the deadline.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not reached within {timeout}");
            await Task.Delay(50); // polling interval of a condition with a deadline
        }
    }

    /// <summary>Sends SIGTERM and waits for a clean exit.</summary>
    public async Task<int> StopGracefullyAsync(TimeSpan timeout)
    {
        Process.Signal(15);
        return await Process.WaitForExitAsync(timeout);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        _ownDir?.Dispose();
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Mirror.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Mirror.sln not found above " + AppContext.BaseDirectory);
    }
}
