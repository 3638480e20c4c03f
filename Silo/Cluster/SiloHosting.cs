using Microsoft.Extensions.DependencyInjection.Extensions;
using Mirror.Grains;
using Mirror.Grains.Hosting;
using Mirror.Grains.Layers;
using Mirror.Grains.Storage;
using Mirror.Silo.Hosting;
using Npgsql;

namespace Mirror.Silo.Cluster;

/// <summary>Composition of the cluster's parts; each backend is one <c>Add…</c>.</summary>
public static class SiloHosting
{
    /// <summary>The PostgreSQL data source for membership, leases and metadata.</summary>
    public static IServiceCollection AddClusterDatabase(this IServiceCollection services, MirrorOptions options)
    {
        var builder = new NpgsqlConnectionStringBuilder(options.Cluster.ConnectionString)
        {
            // Fail fast when PostgreSQL is gone: callers degrade (keep membership, answer from upstream) instead of hanging.
            Timeout = 5,
            CommandTimeout = 10,
        };
        services.TryAddSingleton(_ => NpgsqlDataSource.Create(builder.ConnectionString));
        services.TryAddSingleton<MembershipView>();
        return services;
    }

    /// <summary>The blob store named by <c>Mirror:Storage:Kind</c>: S3 or a (shared) filesystem.</summary>
    public static IServiceCollection AddBlobStorage(this IServiceCollection services, MirrorOptions options)
    {
        if (options.Storage.IsS3)
        {
            services.TryAddSingleton(sp => new S3BlobStore(options.Storage.S3, sp.GetService<IUploadTracker>(), sp.GetRequiredService<ILogger<S3BlobStore>>()));
            services.TryAddSingleton<IBlobStore>(sp => sp.GetRequiredService<S3BlobStore>());
        }
        else
        {
            var root = Path.GetFullPath(options.CacheDirectory);
            services.TryAddSingleton<IBlobStore>(_ => new FileSystemBlobStore(root));
        }
        return services;
    }

    /// <summary>Everything a silo process hosts.</summary>
    public static WebApplicationBuilder AddMirrorSilo(this WebApplicationBuilder builder, MirrorOptions options)
    {
        var services = builder.Services;
        var identity = new SiloIdentity($"{Environment.MachineName}-{Guid.NewGuid():N}"[..Math.Min(64, Environment.MachineName.Length + 33)],
            AdvertisedAddress(options, builder.Configuration));
        services.AddSingleton(identity);
        services.AddSingleton<Readiness>();
        services.AddClusterDatabase(options);
        services.AddSingleton<PostgresUploadTracker>();
        services.AddSingleton<IUploadTracker>(sp => sp.GetRequiredService<PostgresUploadTracker>());
        services.AddBlobStorage(options);
        services.AddSingleton<IMetadataStore, PostgresMetadataStore>();
        services.AddSingleton<PostgresLeases>();
        services.AddSingleton<IFetchGuard>(sp => sp.GetRequiredService<PostgresLeases>());
        services.AddSingleton<SiloMembership>();
        services.AddMirrorGrains(options);
        services.AddHostedService<SiloLifecycle>();
        services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownDrainSeconds + 15));
        return builder;
    }

    /// <summary><c>Mirror:Silo:AdvertisedUrl</c>, else the first <c>--urls</c> entry with a wildcard host replaced by this host's name.</summary>
    internal static string AdvertisedAddress(MirrorOptions options, IConfiguration configuration)
    {
        if (!string.IsNullOrWhiteSpace(options.Silo.AdvertisedUrl)) return options.Silo.AdvertisedUrl.TrimEnd('/');
        var urls = configuration["urls"] ?? configuration["ASPNETCORE_URLS"] ?? "http://localhost:5000";
        var first = urls.Split(';', StringSplitOptions.RemoveEmptyEntries)[0].Trim().TrimEnd('/');
        foreach (var wildcard in new[] { "://0.0.0.0", "://+", "://*", "://[::]" })
        {
            if (first.Contains(wildcard, StringComparison.Ordinal)) return first.Replace(wildcard, "://" + System.Net.Dns.GetHostName());
        }
        return first;
    }
}

/// <summary>
/// The silo's life: wait for PostgreSQL and the right schema, register, heartbeat and sweep orphaned uploads; on SIGTERM
/// turn unready, leave the routing (status <c>leaving</c>), start no new fetches, finish the running ones within
/// <c>Mirror:ShutdownDrainSeconds</c>, release every lease and delete the membership row.
/// </summary>
internal sealed partial class SiloLifecycle(SiloMembership membership, PostgresLeases leases, FetchTable fetches, Readiness readiness,
    NpgsqlDataSource db, IServiceProvider services, ProcessLifetime lifetime, MirrorOptions options, SiloIdentity self,
    ILogger<SiloLifecycle> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _background = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _background = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        // Not ready until PostgreSQL answers with the schema this build needs.
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var version = await ClusterSchema.CurrentVersionAsync(db, stopping);
                if (version < ClusterSchema.LatestVersion)
                {
                    readiness.SetNotReady($"schema at version {version}, need {ClusterSchema.LatestVersion}: run 'Silo migrate'");
                    LogSchemaBehind(logger, version, ClusterSchema.LatestVersion);
                }
                else
                {
                    if (services.GetService<Mirror.Grains.Storage.S3BlobStore>() is { } s3) await s3.EnsureBucketAsync(stopping);
                    await membership.RegisterAsync(stopping);
                    break;
                }
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or Amazon.Runtime.AmazonServiceException or HttpRequestException)
            {
                readiness.SetNotReady($"waiting for dependencies: {e.Message}");
                LogWaiting(logger, e.Message);
            }
            try { await Task.Delay(TimeSpan.FromSeconds(1), stopping); } catch (OperationCanceledException) { return; }
        }
        if (stopping.IsCancellationRequested) return;
        readiness.SetReady();
        LogReady(logger, self.Id, self.Address, options.Storage.Kind);
        await Task.WhenAll(membership.HeartbeatLoopAsync(stopping), SweepUploadsLoopAsync(stopping));
    }

    private async Task SweepUploadsLoopAsync(CancellationToken stopping)
    {
        if (services.GetService<Mirror.Grains.Storage.S3BlobStore>() is not { } s3) return;
        var tracker = services.GetRequiredService<PostgresUploadTracker>();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        try
        {
            do
            {
                try
                {
                    foreach (var (uploadId, key) in await tracker.FindOrphansAsync(stopping))
                    {
                        await s3.AbortUploadAsync(key, uploadId, stopping);
                        await tracker.UntrackAsync(uploadId, stopping);
                        LogOrphanAborted(logger, key, uploadId);
                    }
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or Amazon.Runtime.AmazonServiceException or HttpRequestException)
                {
                    LogWaiting(logger, e.Message);
                }
            } while (await timer.WaitForNextTickAsync(stopping));
        }
        catch (OperationCanceledException) { }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        readiness.SetNotReady("draining");
        fetches.StopStarting();
        try { await membership.MarkLeavingAsync(cancellationToken); }
        catch (Exception e) when (e is NpgsqlException or TimeoutException) { LogWaiting(logger, e.Message); }

        var running = fetches.Snapshot();
        if (running.Count > 0)
        {
            LogDraining(logger, running.Count, options.ShutdownDrainSeconds);
            using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            drain.CancelAfter(TimeSpan.FromSeconds(options.ShutdownDrainSeconds));
            try { await Task.WhenAll(running.Select(f => f.Finished)).WaitAsync(drain.Token); }
            catch (OperationCanceledException) { LogDrainTimedOut(logger, fetches.Count); }
        }
        _stopping.Cancel();
        lifetime.Stop();
        try { await _background; } catch (OperationCanceledException) { }
        try
        {
            await leases.ReleaseAllAsync(CancellationToken.None);
            await membership.LeaveAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            LogWaiting(logger, $"could not leave cleanly (leases expire within {ClusterTiming.LeaseDuration.TotalSeconds}s): {e.Message}");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo {SiloId} ready at {Address} (storage {Storage})")]
    private static partial void LogReady(ILogger logger, string siloId, string address, string storage);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not ready: {Reason}")]
    private static partial void LogWaiting(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Database schema is at version {Version}; this build needs {Needed}. Run 'dotnet Silo.dll migrate'.")]
    private static partial void LogSchemaBehind(ILogger logger, int version, int needed);

    [LoggerMessage(Level = LogLevel.Information, Message = "Aborted orphaned multipart upload {Key} ({UploadId})")]
    private static partial void LogOrphanAborted(ILogger logger, string key, string uploadId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining: finishing {Count} in-flight fetches (at most {Seconds}s)")]
    private static partial void LogDraining(ILogger logger, int count, int seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain timed out with {Count} fetches still running; they are abandoned uncommitted")]
    private static partial void LogDrainTimedOut(ILogger logger, int count);
}
