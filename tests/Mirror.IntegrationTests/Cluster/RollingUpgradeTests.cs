using System.Collections.Concurrent;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Mirror.IntegrationTests.Cluster;

/// <summary>
/// What Kubernetes does during <c>helm upgrade</c>, on processes: run the migration hook, then replace every silo and
/// every frontend one at a time with SIGTERM and a fresh start, while a loop of real pulls (cached and cold) runs.
/// </summary>
public sealed class RollingUpgradeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ClusterFixture _c = null!;

    public async Task InitializeAsync() => _c = await ClusterFixture.StartAsync();

    public async Task DisposeAsync() => await _c.DisposeAsync();

    [Fact]
    public async Task ReplacingEveryProcessOneByOneUnderLoadDropsNoPull()
    {
        var images = new ConcurrentQueue<PushedImage>();
        for (var i = 0; i < 3; i++)
            images.Enqueue(await new ImageBuilder().WithRandomLayer(3 * 1024 * 1024, seed: 600 + i).WithRandomLayer(2048, seed: 610 + i)
                .PushAsync(_c.Upstream, $"library/rolling{i}", "v1"));

        // The "Service": frontends in rotation. A frontend leaves the rotation before its SIGTERM, as it does once its
        // endpoint is removed (readiness and preStop), and returns once ready again.
        var rotation = new ConcurrentDictionary<int, Uri>();
        for (var i = 0; i < _c.Frontends.Count; i++) rotation[i] = _c.Frontends[i].Url;

        // Pulls in flight per frontend: a frontend out of the rotation is stopped once its pulls are done, which is what
        // the chart's preStop delay gives Kubernetes (endpoint removal reaching every client before SIGTERM).
        var inFlight = new ConcurrentDictionary<Uri, int>();
        using var stop = new CancellationTokenSource();
        var failures = new ConcurrentQueue<string>();
        var pulls = 0L;
        var fresh = 0;

        // New images appear upstream all along, so silos keep taking leases and fetching while they are replaced.
        var pusher = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref fresh);
                images.Enqueue(await new ImageBuilder().WithRandomLayer(512 * 1024 + n, seed: 700 + n).PushAsync(_c.Upstream, $"library/fresh{n}", "v1"));
                await Task.Delay(200); // pacing of the load generator, not synchronisation
            }
        });
        var pullers = Enumerable.Range(0, 3).Select(worker => Task.Run(async () =>
        {
            var turn = worker;
            while (!stop.IsCancellationRequested)
            {
                var all = images.ToArray();
                var image = all[turn % all.Length];
                Uri target;
                lock (rotation)
                {
                    var targets = rotation.Values.ToArray();
                    target = targets[turn++ % targets.Length];
                    inFlight.AddOrUpdate(target, 1, (_, n) => n + 1);
                }
                try
                {
                    using var client = Http.Client(target);
                    var name = image.Repository[8..];
                    using (var m = await Http.ManifestAsync(client, name, "v1"))
                    {
                        m.EnsureSuccessStatusCode();
                        if (m.Headers.GetValues("Docker-Content-Digest").Single() != image.Digest) throw new InvalidOperationException("wrong manifest");
                    }
                    foreach (var blob in image.Blobs)
                    {
                        var (digest, size) = await Http.BlobDigestAsync(client, name, blob.Digest);
                        if (digest != blob.Digest || size != blob.Size) throw new InvalidOperationException($"blob {blob.Digest} came back as {digest}");
                    }
                    Interlocked.Increment(ref pulls);
                }
                catch (Exception e)
                {
                    failures.Enqueue($"{target} {image.Repository}: {e.GetType().Name}: {e.Message}");
                }
                finally
                {
                    inFlight.AddOrUpdate(target, 0, (_, n) => n - 1);
                }
            }
        })).ToList();

        async Task WaitForPullsAsync(long more)
        {
            var target = Interlocked.Read(ref pulls) + more;
            await MirrorProcess.WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref pulls) >= target || !failures.IsEmpty),
                TimeSpan.FromSeconds(120), $"{more} more pulls");
        }

        await WaitForPullsAsync(10);
        // The pre-upgrade hook: the migration command runs against the live cluster first (idempotent).
        await _c.MigrateAsync();
        for (var i = 0; i < _c.Silos.Count; i++)
        {
            output.WriteLine($"replacing silo {_c.Silos[i].Url}");
            await _c.RestartAsync(_c.Silos[i], graceful: true);
            await WaitForPullsAsync(10);
        }
        for (var i = 0; i < _c.Frontends.Count; i++)
        {
            output.WriteLine($"replacing frontend {_c.Frontends[i].Url}");
            Uri leaving;
            lock (rotation) rotation.TryRemove(i, out leaving!);
            await MirrorProcess.WaitUntilAsync(() => Task.FromResult(inFlight.GetValueOrDefault(leaving) == 0), TimeSpan.FromSeconds(60), "pulls on the leaving frontend");
            var replaced = await _c.RestartAsync(_c.Frontends[i], graceful: true);
            lock (rotation) rotation[i] = replaced.Url;
            await WaitForPullsAsync(10);
        }
        stop.Cancel();
        await Task.WhenAll(pullers.Append(pusher));

        output.WriteLine($"{pulls} pulls, {fresh} fresh images, {failures.Count} failures");
        Assert.True(failures.IsEmpty, string.Join('\n', failures.Take(10)));
        Assert.True(pulls >= 50, $"only {pulls} pulls ran");

        // No lease is left to a process that is gone, and only the three live silos are members.
        await MirrorProcess.WaitUntilAsync(async () => await _c.ScalarAsync<long>("select count(*) from mirror_leases") == 0,
            TimeSpan.FromSeconds(30), "leases released");
        Assert.Equal(3L, await _c.ScalarAsync<long>("select count(*) from mirror_silos"));
        await _c.AssertBucketHoldsOnlyVerifiedBlobsAsync();
    }
}
