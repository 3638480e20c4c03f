using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Mirror.IntegrationTests.Infrastructure;
using Npgsql;

namespace Mirror.IntegrationTests.Cluster;

/// <summary>
/// A whole cluster as separate OS processes: PostgreSQL, an S3 server, an upstream registry behind a counting fault
/// proxy, 3 silos and 2 frontends. Processes can be killed, stopped gracefully and restarted in place.
/// </summary>
public sealed class ClusterFixture : IAsyncDisposable
{
    private readonly TempDir _dir = new("cluster");

    private ClusterFixture() { }

    public PostgresServer Postgres { get; private set; } = null!;
    public S3Server S3 { get; private set; } = null!;
    public UpstreamRegistry Upstream { get; private set; } = null!;
    public FaultProxy Proxy { get; private set; } = null!;
    public List<MirrorProcess> Silos { get; } = [];
    public List<MirrorProcess> Frontends { get; } = [];

    /// <summary>Starts everything; the schema is created with the real migration command first.</summary>
    public static async Task<ClusterFixture> StartAsync(int silos = 3, int frontends = 2)
    {
        var c = new ClusterFixture();
        var pg = PostgresServer.CreateAsync();
        var s3 = S3Server.CreateAsync($"mirror-{Guid.NewGuid():N}"[..20]);
        var upstream = UpstreamRegistry.StartAnonymousAsync();
        c.Postgres = await pg;
        c.S3 = await s3;
        c.Upstream = await upstream;
        c.Proxy = await FaultProxy.StartAsync(c.Upstream);
        await c.MigrateAsync();
        var started = await Task.WhenAll(Enumerable.Range(0, silos).Select(i => MirrorProcess.StartSiloAsync(c.Settings($"silo{i}"))));
        c.Silos.AddRange(started);
        var fes = await Task.WhenAll(Enumerable.Range(0, frontends).Select(i => MirrorProcess.StartFrontendAsync(c.Settings($"frontend{i}"))));
        c.Frontends.AddRange(fes);
        return c;
    }

    /// <summary>The settings every process of this cluster gets (each its own spool directory).</summary>
    public Dictionary<string, string> Settings(string name) => new()
    {
        ["Cluster:ConnectionString"] = Postgres.ConnectionString,
        ["Storage:Kind"] = "S3",
        ["Storage:S3:ServiceUrl"] = S3.ServiceUrl.ToString().TrimEnd('/'),
        ["Storage:S3:Bucket"] = S3.Bucket,
        ["Storage:S3:AccessKey"] = S3.AccessKey,
        ["Storage:S3:SecretKey"] = S3.SecretKey,
        ["Storage:S3:Region"] = S3.Region,
        ["Storage:S3:ForcePathStyle"] = "true",
        ["Upstreams:docker.io:Url"] = Proxy.Url.ToString().TrimEnd('/'),
        ["CacheDirectory"] = _dir.Combine(name, "spool"),
        ["ShutdownDrainSeconds"] = "30",
    };

    /// <summary>Runs <c>Silo migrate</c> as a separate process, like the Helm hook does.</summary>
    public async Task MigrateAsync()
    {
        var (exit, output) = await ChildProcess.RunAsync("dotnet",
            [MirrorProcess.AssemblyPath("Silo"), "migrate", $"--Mirror:Cluster:ConnectionString={Postgres.ConnectionString}"], TimeSpan.FromSeconds(60));
        if (exit != 0) throw new InvalidOperationException($"migrate failed ({exit}):\n{output}");
    }

    /// <summary>Replaces a process with a new one started with the same settings on the same port.</summary>
    public async Task<MirrorProcess> RestartAsync(MirrorProcess old, bool graceful)
    {
        if (graceful)
        {
            var exit = await old.StopGracefullyAsync(TimeSpan.FromSeconds(60));
            if (exit != 0) throw new InvalidOperationException($"{old.Kind} exited with {exit} on SIGTERM:\n{old.Process.Tail()}");
        }
        else
        {
            old.Process.Signal(9);
            await old.Process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        await old.DisposeAsync();
        var settings = new Dictionary<string, string>(old.Settings);
        var fresh = old.Kind == "Silo"
            ? await MirrorProcess.StartSiloAsync(settings, old.Url.Port)
            : await MirrorProcess.StartFrontendAsync(settings, old.Url.Port);
        var list = old.Kind == "Silo" ? Silos : Frontends;
        list[list.IndexOf(old)] = fresh;
        return fresh;
    }

    /// <summary>An S3 client on the test server (to inspect what was committed).</summary>
    public AmazonS3Client S3Client() => new(new BasicAWSCredentials(S3.AccessKey, S3.SecretKey), new AmazonS3Config
    {
        ServiceURL = S3.ServiceUrl.ToString(),
        ForcePathStyle = true,
        AuthenticationRegion = S3.Region,
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    /// <summary>True when the blob is committed in the bucket.</summary>
    public async Task<bool> InS3Async(string digest)
    {
        using var s3 = S3Client();
        try
        {
            await s3.GetObjectMetadataAsync(S3.Bucket, $"blobs/sha256/{digest[7..]}");
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>Every object in the bucket hashes to the digest its key names: nothing unverified was ever stored.</summary>
    public async Task AssertBucketHoldsOnlyVerifiedBlobsAsync()
    {
        using var s3 = S3Client();
        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = S3.Bucket });
        foreach (var o in listed.S3Objects ?? [])
        {
            using var obj = await s3.GetObjectAsync(S3.Bucket, o.Key);
            await using var body = obj.ResponseStream;
            var (digest, _) = await Http.HashAsync(body);
            if (!o.Key.EndsWith(digest[7..], StringComparison.Ordinal))
                throw new Xunit.Sdk.XunitException($"S3 object {o.Key} hashes to {digest}");
        }
    }

    /// <summary>Runs a scalar query against the cluster database (a fresh connection each time).</summary>
    public async Task<T?> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(Postgres.ConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (n, v) in parameters) command.Parameters.AddWithValue(n, v);
        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)result;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in Frontends.Concat(Silos)) await p.DisposeAsync();
        if (Proxy is not null) await Proxy.DisposeAsync();
        if (Upstream is not null) await Upstream.DisposeAsync();
        if (S3 is not null) await S3.DisposeAsync();
        if (Postgres is not null) await Postgres.DisposeAsync();
        _dir.Dispose();
    }
}
