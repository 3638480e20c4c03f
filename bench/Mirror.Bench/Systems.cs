using System.Security.Cryptography;
using Mirror.IntegrationTests.Infrastructure;

namespace Mirror.Bench;

/// <summary>A system under test: one or more processes answering the registry API (or its static-file imitation).</summary>
internal abstract class BenchSystem : IAsyncDisposable
{
    /// <summary>Base URLs clients spread their requests over.</summary>
    public abstract IReadOnlyList<Uri> Endpoints { get; }

    /// <summary>Every process whose peak RSS counts.</summary>
    public abstract IReadOnlyList<(string Role, int Pid)> Processes();

    /// <summary>URL of a blob at endpoint <paramref name="i"/>.</summary>
    public Uri Blob(string repository, string digest, int i = 0) => new(Endpoints[i % Endpoints.Count], $"v2/{repository}/blobs/{digest}");

    /// <summary>URL of a manifest at the first endpoint.</summary>
    public Uri Manifest(string repository, string reference) => new(Endpoints[0], $"v2/{repository}/manifests/{reference}");

    /// <summary>Waits until the system has committed <paramref name="digest"/> to its store (for systems that say so).</summary>
    public virtual Task WaitCommittedAsync(string digest) => Task.CompletedTask;

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();
}

/// <summary>The limit: nginx with sendfile serving the very same files from disk.</summary>
internal sealed class NginxLimit : BenchSystem
{
    private readonly TempDir _dir;
    private readonly ChildProcess _process;
    private readonly Uri _url;

    private NginxLimit(TempDir dir, ChildProcess process, Uri url) => (_dir, _process, _url) = (dir, process, url);

    public override IReadOnlyList<Uri> Endpoints => [_url];

    public override IReadOnlyList<(string Role, int Pid)> Processes() =>
        [.. Measure.WithChildren(_process.Pid).Select(p => (p == _process.Pid ? "master" : "worker", p))];

    /// <summary>Serves <paramref name="blob"/> and <paramref name="image"/>'s manifest under the registry's paths.</summary>
    public static async Task<NginxLimit> StartAsync(PushedImage image, PushedBlob blob)
    {
        var dir = new TempDir("nginx");
        var blobs = dir.Combine("www", "v2", image.Repository, "blobs");
        var manifests = dir.Combine("www", "v2", image.Repository, "manifests");
        Directory.CreateDirectory(blobs);
        Directory.CreateDirectory(manifests);
        File.CreateSymbolicLink(Path.Combine(blobs, blob.Digest), blob.LocalPath);
        await File.WriteAllBytesAsync(Path.Combine(manifests, image.Tag!), image.ManifestBytes);
        var port = Ports.GetFree();
        var config = dir.Combine("nginx.conf");
        await File.WriteAllTextAsync(config, $$"""
            daemon off;
            user root;
            worker_processes auto;
            pid {{dir.Combine("nginx.pid")}};
            error_log {{dir.Combine("error.log")}} warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                sendfile on;
                tcp_nopush on;
                keepalive_requests 1000000;
                default_type application/octet-stream;
                types { application/vnd.docker.distribution.manifest.v2+json latest; }
                server {
                    listen 127.0.0.1:{{port}};
                    root {{dir.Combine("www")}};
                }
            }
            """);
        var process = ChildProcess.Start("/usr/sbin/nginx", ["-p", dir.Path, "-c", config, "-e", dir.Combine("error.log")], dir.Combine("nginx.log"));
        var url = new Uri($"http://127.0.0.1:{port}/");
        await process.WaitForHttpAsync(new Uri(url, $"v2/{image.Repository}/manifests/{image.Tag}"), TimeSpan.FromSeconds(20));
        return new NginxLimit(dir, process, url);
    }

    public override async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>The peer: Debian's docker-registry (CNCF distribution 2.8) in proxy mode; N replicas share one filesystem store.</summary>
internal sealed class DistributionPeer : BenchSystem
{
    private readonly TempDir _dir;
    private readonly List<(ChildProcess Process, Uri Url)> _replicas;

    private DistributionPeer(TempDir dir, List<(ChildProcess, Uri)> replicas) => (_dir, _replicas) = (dir, replicas);

    public override IReadOnlyList<Uri> Endpoints => [.. _replicas.Select(r => r.Url)];

    public override IReadOnlyList<(string Role, int Pid)> Processes() => [.. _replicas.Select(r => ("registry", r.Process.Pid))];

    /// <summary>Starts <paramref name="replicas"/> proxies of <paramref name="upstream"/> on one shared storage directory.</summary>
    public static async Task<DistributionPeer> StartAsync(Uri upstream, int replicas)
    {
        var dir = new TempDir("peer");
        var list = new List<(ChildProcess, Uri)>();
        try
        {
            var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)); // replicas behind one name share the secret
            for (var i = 0; i < replicas; i++)
            {
                var port = Ports.GetFree();
                var config = dir.Combine($"config-{i}.yml");
                // The same logging as the upstream fixture: info level with the access log on, as shipped.
                await File.WriteAllTextAsync(config, $"""
                    version: 0.1
                    log:
                      level: info
                      formatter: text
                      accesslog:
                        disabled: false
                    storage:
                      filesystem:
                        rootdirectory: "{dir.Combine("storage")}"
                      maintenance:
                        uploadpurging:
                          enabled: false
                    http:
                      addr: 127.0.0.1:{port}
                      secret: "{secret}"
                    proxy:
                      remoteurl: "{upstream.ToString().TrimEnd('/')}"

                    """);
                var process = ChildProcess.Start("/usr/bin/docker-registry", ["serve", config], dir.Combine($"registry-{i}.log"), dir.Path,
                    new Dictionary<string, string?> { ["AWS_CA_BUNDLE"] = null });
                var url = new Uri($"http://127.0.0.1:{port}/");
                list.Add((process, url));
                await process.WaitForHttpAsync(new Uri(url, "v2/"), TimeSpan.FromSeconds(20));
            }
            return new DistributionPeer(dir, list);
        }
        catch
        {
            foreach (var (p, _) in list) await p.DisposeAsync();
            dir.Dispose();
            throw;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (var (p, _) in _replicas) await p.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>Our mirror: one embedded Frontend, or a cluster of silos and frontends on PostgreSQL and S3.</summary>
internal sealed class OurMirror : BenchSystem
{
    private readonly List<MirrorProcess> _processes;
    private readonly List<IAsyncDisposable> _services;

    private OurMirror(List<MirrorProcess> processes, List<IAsyncDisposable> services) => (_processes, _services) = (processes, services);

    public override IReadOnlyList<Uri> Endpoints => [.. _processes.Where(p => p.Kind == "Frontend").Select(p => p.Url)];

    public override IReadOnlyList<(string Role, int Pid)> Processes() => [.. _processes.Select(p => (p.Kind.ToLowerInvariant(), p.Process.Pid))];

    /// <summary>
    /// Waits for the "Committed blob" log line. The S3 server used here writes a completed multipart object in place,
    /// so the object is visible (and short) before CompleteMultipartUpload returns; a frontend that reads it then
    /// serves a truncated blob (seen in this benchmark; real S3 and MinIO make the object visible atomically).
    /// </summary>
    public override Task WaitCommittedAsync(string digest) =>
        MirrorProcess.WaitUntilAsync(() => Task.FromResult(_processes.Any(p => p.Process.Output.Contains($"Committed blob {digest}"))),
            TimeSpan.FromMinutes(5), $"commit of {digest}");

    /// <summary>Frontend.dll alone with its disk cache.</summary>
    public static async Task<OurMirror> StartEmbeddedAsync(Uri upstream) =>
        new([await MirrorProcess.StartFrontendAsync(new Dictionary<string, string> { ["Upstreams:docker.io:Url"] = upstream.ToString() })], []);

    /// <summary><paramref name="silos"/> Silo.dll and <paramref name="frontends"/> Frontend.dll on a fresh PostgreSQL and S3 server.</summary>
    public static async Task<OurMirror> StartClusterAsync(Uri upstream, int silos, int frontends)
    {
        var services = new List<IAsyncDisposable>();
        var processes = new List<MirrorProcess>();
        try
        {
            var pg = await PostgresServer.CreateAsync();
            services.Add(pg);
            var s3 = await S3Server.CreateAsync("mirror-bench");
            services.Add(s3);
            var common = new Dictionary<string, string>
            {
                ["Cluster:ConnectionString"] = pg.ConnectionString,
                ["Storage:Kind"] = "S3",
                ["Storage:S3:ServiceUrl"] = s3.ServiceUrl.ToString(),
                ["Storage:S3:Bucket"] = s3.Bucket,
                ["Storage:S3:AccessKey"] = s3.AccessKey,
                ["Storage:S3:SecretKey"] = s3.SecretKey,
                ["Storage:S3:ForcePathStyle"] = "true",
                ["Upstreams:docker.io:Url"] = upstream.ToString(),
            };
            var (code, output) = await ChildProcess.RunAsync("dotnet",
                [MirrorProcess.AssemblyPath("Silo"), "migrate", $"--Mirror:Cluster:ConnectionString={pg.ConnectionString}"], TimeSpan.FromMinutes(1));
            if (code != 0) throw new InvalidOperationException($"Silo migrate: exit {code}: {output}");
            for (var i = 0; i < silos; i++)
            {
                var port = Ports.GetFree();
                processes.Add(await MirrorProcess.StartSiloAsync(new Dictionary<string, string>(common) { ["Silo:AdvertisedUrl"] = $"http://127.0.0.1:{port}" }, port));
            }
            for (var i = 0; i < frontends; i++) processes.Add(await MirrorProcess.StartFrontendAsync(common));
            return new OurMirror(processes, services);
        }
        catch
        {
            await new OurMirror(processes, services).DisposeAsync();
            throw;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (var p in _processes) await p.DisposeAsync();
        for (var i = _services.Count - 1; i >= 0; i--) await _services[i].DisposeAsync();
    }
}
