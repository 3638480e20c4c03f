using Mirror.Grains;
using Mirror.Grains.Hosting;
using Mirror.Grains.Layers;
using Mirror.Frontend.Cluster;
using Mirror.Silo.Cluster;
using Mirror.Silo.Hosting;

namespace Mirror.Frontend;

/// <summary>Composition of the Frontend process.</summary>
public static class FrontendHosting
{
    /// <summary>Kestrel limits, the grains (embedded: in-process with a disk cache), readiness and shutdown.</summary>
    public static WebApplicationBuilder AddMirrorFrontend(this WebApplicationBuilder builder, MirrorOptions options)
    {
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // A mirror reads no request bodies; anything sent is refused long before this matters.
            k.Limits.MaxRequestBodySize = 64 * 1024;
            k.Limits.MaxRequestHeadersTotalSize = 64 * 1024;
        });
        builder.Services.AddSingleton<Readiness>();
        // In-flight requests get the drain time to finish after SIGTERM before Kestrel gives up on them.
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownDrainSeconds + 15));
        if (options.Cluster.ConnectionString is null)
        {
            builder.Services.AddFileSystemStorage(options);
            builder.Services.AddMirrorGrains(options);
            builder.Services.AddHostedService<EmbeddedLifecycle>();
            return builder;
        }

        // Cluster: hits straight from the shared store, misses through the silo that owns the key.
        builder.Services.AddClusterDatabase(options);
        builder.Services.AddBlobStorage(options);
        builder.Services.AddSingleton<SiloClient>();
        builder.Services.AddSingleton<ClusterGrainFactory>();
        builder.Services.AddSingleton<IGrainFactory>(sp => sp.GetRequiredService<ClusterGrainFactory>());
        builder.Services.AddMirrorGrains(options);
        if (options.Storage.IsS3 && options.Storage.S3.RedirectBlobs) builder.Services.AddSingleton<BlobRedirector>();
        builder.Services.AddHostedService<ClusterFrontendLifecycle>();
        return builder;
    }
}

/// <summary>Marks the embedded process ready once started; on SIGTERM turns unready and lets in-flight fetches finish.</summary>
internal sealed partial class EmbeddedLifecycle(Readiness readiness, FetchTable fetches, ProcessLifetime lifetime, MirrorOptions options,
    ILogger<EmbeddedLifecycle> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        readiness.SetReady();
        LogStarted(logger, options.Storage.Kind, Path.GetFullPath(options.CacheDirectory));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        readiness.SetNotReady("draining");
        var running = fetches.Snapshot();
        if (running.Count > 0)
        {
            LogDraining(logger, running.Count);
            using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            drain.CancelAfter(TimeSpan.FromSeconds(options.ShutdownDrainSeconds));
            try { await Task.WhenAll(running.Select(f => f.Finished)).WaitAsync(drain.Token); }
            catch (OperationCanceledException) { }
        }
        lifetime.Stop();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Mirror ready (embedded, storage {Storage} at {CacheDirectory})")]
    private static partial void LogStarted(ILogger logger, string storage, string cacheDirectory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining: waiting for {Count} in-flight fetches")]
    private static partial void LogDraining(ILogger logger, int count);
}

/// <summary>
/// A cluster frontend is ready once it has read the membership from PostgreSQL at least once (it then survives
/// PostgreSQL going away on the last good list); on SIGTERM it turns unready and Kestrel finishes in-flight requests.
/// </summary>
internal sealed partial class ClusterFrontendLifecycle(Readiness readiness, MembershipView membership, ILogger<ClusterFrontendLifecycle> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var probe = await membership.ProbeAsync(stoppingToken);
                var silos = await membership.GetLiveAsync(stoppingToken, force: true);
                readiness.SetReady();
                LogReady(logger, silos.Count);
                return;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
            {
                readiness.SetNotReady($"PostgreSQL unreachable: {e.Message}");
            }
            try { await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken); } catch (OperationCanceledException) { return; }
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        readiness.SetNotReady("draining");
        return base.StopAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Mirror frontend ready (cluster, {Count} live silos)")]
    private static partial void LogReady(ILogger logger, int count);
}
