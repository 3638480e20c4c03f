using System.Net;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Cluster;

/// <summary>The silo process on its own: migrations, readiness against the schema, the versioned internal contract.</summary>
public sealed class SiloHostTests : IAsyncLifetime
{
    private PostgresServer _pg = null!;
    private UpstreamRegistry _upstream = null!;
    private TempDir _dir = null!;

    public async Task InitializeAsync()
    {
        _dir = new TempDir("silohost");
        var pg = PostgresServer.CreateAsync();
        _upstream = await UpstreamRegistry.StartAnonymousAsync();
        _pg = await pg;
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _pg.DisposeAsync();
        _dir.Dispose();
    }

    private Task<(int ExitCode, string Output)> MigrateAsync() => ChildProcess.RunAsync("dotnet",
        [MirrorProcess.AssemblyPath("Silo"), "migrate", $"--Mirror:Cluster:ConnectionString={_pg.ConnectionString}"], TimeSpan.FromSeconds(60));

    private Dictionary<string, string> Settings() => new()
    {
        ["Cluster:ConnectionString"] = _pg.ConnectionString,
        ["Storage:Kind"] = "FileSystem",
        ["CacheDirectory"] = _dir.Combine("shared"),
        ["Upstreams:docker.io:Url"] = _upstream.Url.ToString().TrimEnd('/'),
    };

    [Fact]
    public async Task MigrationsRunConcurrentlyAndTwiceWithoutHarm()
    {
        var runs = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => MigrateAsync()));
        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.Output));
        Assert.Single(runs, r => r.Output.Contains("(1 applied)"));
        var again = await MigrateAsync();
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("(0 applied)", again.Output);
    }

    [Fact]
    public async Task SiloIsNotReadyUntilTheSchemaIsMigrated()
    {
        var port = Ports.GetFree();
        var args = new List<string> { MirrorProcess.AssemblyPath("Silo"), "--urls", $"http://127.0.0.1:{port}" };
        args.AddRange(Settings().Select(kv => $"--Mirror:{kv.Key}={kv.Value}"));
        await using var silo = ChildProcess.Start("dotnet", args, _dir.Combine("silo.log"));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        await silo.WaitForOutputAsync(l => l.Contains("Run 'dotnet Silo.dll migrate'"), TimeSpan.FromSeconds(60));
        using (var notReady = await client.GetAsync("/readyz"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            Assert.Contains("migrate", await notReady.Content.ReadAsStringAsync());
        }
        using (var alive = await client.GetAsync("/healthz")) Assert.Equal(HttpStatusCode.OK, alive.StatusCode);

        Assert.Equal(0, (await MigrateAsync()).ExitCode);
        await silo.WaitUntilAsync(async () =>
        {
            using var r = await client.GetAsync("/readyz");
            return r.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(30), "ready after migration");
    }

    [Fact]
    public async Task InternalContractIsVersionedAndUnknownVersionsAreRefused()
    {
        Assert.Equal(0, (await MigrateAsync()).ExitCode);
        var image = await new ImageBuilder().WithRandomLayer(1000, seed: 801).PushAsync(_upstream, "library/contract", "v1");
        await using var silo = await MirrorProcess.StartSiloAsync(Settings());
        using var client = Http.Client(silo.Url);
        var path = "/internal/v1/manifests?registry=docker.io&repository=library%2Fcontract&reference=v1";

        foreach (var version in new string?[] { null, "0", "99", "banana" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (version is not null) request.Headers.Add("Mirror-Contract", version);
            using var refused = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, refused.StatusCode);
            Assert.Equal("UNSUPPORTED", await Http.ErrorCodeAsync(refused));
        }
        using var v1 = new HttpRequestMessage(HttpMethod.Get, path);
        v1.Headers.Add("Mirror-Contract", "1");
        using var ok = await client.SendAsync(v1);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("1", ok.Headers.GetValues("Mirror-Contract").Single());
        Assert.Equal(image.Digest, ok.Headers.GetValues("Docker-Content-Digest").Single());
    }
}
