using System.Text.RegularExpressions;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// An S3-compatible server for tests: the npm package <c>@20minutes/s3rver</c> 5.0.0 (installed by
/// <c>scripts/install-deps.sh</c>), started with node through <c>scripts/s3rver/start.js</c> on a port of 127.0.0.1
/// that it picks itself, storing objects in a fresh directory, with one bucket created at start.
/// It verifies SigV4 signatures and decodes aws-chunked uploads. Clients need path-style addressing and
/// <c>RequestChecksumCalculation</c>/<c>ResponseChecksumValidation = WHEN_REQUIRED</c>.
/// </summary>
public sealed partial class S3Server : IAsyncDisposable
{
    private const string DefaultHome = "/opt/mirror-test/s3rver";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDir _dir;
    private readonly ChildProcess _process;

    private S3Server(TempDir dir, ChildProcess process, int port, string bucket)
    {
        _dir = dir;
        _process = process;
        ServiceUrl = new Uri($"http://127.0.0.1:{port}");
        Bucket = bucket;
    }

    /// <summary>The endpoint, e.g. <c>http://127.0.0.1:41234</c>; use path-style addressing.</summary>
    public Uri ServiceUrl { get; }

    /// <summary>Access key id (s3rver's built-in account).</summary>
    public string AccessKey => "S3RVER";

    /// <summary>Secret access key (s3rver's built-in account).</summary>
    public string SecretKey => "S3RVER";

    /// <summary>Region to sign with; s3rver accepts any.</summary>
    public string Region => "us-east-1";

    /// <summary>The bucket created at start.</summary>
    public string Bucket { get; }

    /// <summary>The server's log (one line per request).</summary>
    public string Output => _process.Output;

    /// <summary>Starts a server with an empty store and the bucket <paramref name="bucket"/> (3–63 characters).</summary>
    public static async Task<S3Server> CreateAsync(string bucket = "mirror-test")
    {
        var home = Environment.GetEnvironmentVariable("MIRROR_S3RVER_HOME") is { Length: > 0 } h ? h : DefaultHome;
        if (!File.Exists(Path.Combine(home, "node_modules", "@20minutes", "s3rver", "package.json")))
        {
            throw new FileNotFoundException($"@20minutes/s3rver is not installed in {home}; run scripts/install-deps.sh");
        }
        var dir = new TempDir("s3");
        var process = ChildProcess.Start(HostTools.Find("node"),
            [FindStartScript(home), "--home", home, "--directory", dir.Combine("data"),
             "--address", "127.0.0.1", "--port", "0", "--bucket", bucket],
            dir.Combine("s3rver.log"), workingDirectory: dir.Path);
        try
        {
            // Port 0: the script prints the port it got, so no other process can take it in between.
            await process.WaitForOutputAsync(line => ListeningLine().IsMatch(line), StartTimeout);
            var port = int.Parse(ListeningLine().Match(process.Output).Groups["port"].Value);
            return new S3Server(dir, process, port, bucket);
        }
        catch
        {
            await process.DisposeAsync();
            dir.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>The repository's copy of the start script if the tests run from a checkout, else the installed copy.</summary>
    private static string FindStartScript(string home)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scripts", "s3rver", "start.js");
            if (File.Exists(candidate)) return candidate;
        }
        var installed = Path.Combine(home, "start.js");
        return File.Exists(installed)
            ? installed
            : throw new FileNotFoundException($"neither scripts/s3rver/start.js nor {installed} exists; run scripts/install-deps.sh");
    }

    [GeneratedRegex(@"S3rver listening on \S+:(?<port>\d+)")]
    private static partial Regex ListeningLine();
}
