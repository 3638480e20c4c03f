using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Mirror.IntegrationTests.Cluster;

/// <summary>The cluster on real processes: one upstream fetch per layer across every silo, survival of killed owners.</summary>
public sealed class ClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ClusterFixture _c = null!;

    public async Task InitializeAsync() => _c = await ClusterFixture.StartAsync();

    public async Task DisposeAsync() => await _c.DisposeAsync();

    [Fact]
    public async Task HerdOf32ColdPullsOverTwoFrontendsFetchesTheLayerOnce()
    {
        var image = await new ImageBuilder().WithRandomLayer(200L * 1024 * 1024, seed: 501).PushAsync(_c.Upstream, "library/herd", "v1");
        var layer = image.Layers[0];
        // 25 MiB/s: the one upstream fetch cannot take less than eight seconds.
        const long rate = 25L * 1024 * 1024;
        var minimumFetch = TimeSpan.FromSeconds((double)layer.Size / rate);
        _c.Proxy.SetFault(layer.Digest, Fault.Throttle(rate));
        var firstByteAfterUpstreamStart = new ConcurrentBag<TimeSpan>();
        var clock = Stopwatch.StartNew();
        var upstreamStarted = _c.Proxy.WaitForBlobGetAsync(layer.Digest, TimeSpan.FromSeconds(60))
            .ContinueWith(_ => clock.Elapsed, TaskScheduler.Default);
        var pulls = Enumerable.Range(0, 32).Select(async i =>
        {
            using var client = Http.Client(_c.Frontends[i % 2].Url);
            using var response = await client.GetAsync($"/v2/herd/blobs/{layer.Digest}", HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync();
            var first = new byte[1];
            await body.ReadExactlyAsync(first);
            firstByteAfterUpstreamStart.Add(clock.Elapsed - await upstreamStarted);
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            hash.AppendData(first);
            await HashRestAsync(body, hash);
            return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
        }).ToList();
        var digests = await Task.WhenAll(pulls);
        output.WriteLine($"32 pulls of 200 MiB in {clock.Elapsed.TotalSeconds:F1}s");

        Assert.All(digests, d => Assert.Equal(layer.Digest, d));
        Assert.Equal(1, _c.Proxy.CountBlobGets(layer.Digest));
        // Every follower had its first byte while the fetch was still running (it cannot finish before minimumFetch).
        output.WriteLine($"first bytes {firstByteAfterUpstreamStart.Min().TotalMilliseconds:F0}..{firstByteAfterUpstreamStart.Max().TotalMilliseconds:F0} ms after the upstream GET started; fetch takes at least {minimumFetch.TotalMilliseconds:F0} ms");
        Assert.Equal(32, firstByteAfterUpstreamStart.Count);
        Assert.All(firstByteAfterUpstreamStart, t => Assert.True(t < minimumFetch, $"first byte {t} after the upstream GET started"));
        // Clients end at verification; the multipart upload completes right after, then the lease is released.
        await MirrorProcess.WaitUntilAsync(() => _c.InS3Async(layer.Digest), TimeSpan.FromSeconds(60), "commit to S3");
        await MirrorProcess.WaitUntilAsync(async () => await _c.ScalarAsync<long>("select count(*) from mirror_leases") == 0,
            TimeSpan.FromSeconds(30), "lease released");
        await _c.AssertBucketHoldsOnlyVerifiedBlobsAsync();
    }

    [Fact]
    public async Task OwnerKilledMidFetchThePullCompletesFromTheNextOwner()
    {
        var image = await new ImageBuilder().WithRandomLayer(120L * 1024 * 1024, seed: 511).PushAsync(_c.Upstream, "library/orphan", "v1");
        var layer = image.Layers[0];
        _c.Proxy.SetFault(layer.Digest, Fault.Throttle(12L * 1024 * 1024));
        var received = new long[4];
        var pulls = Enumerable.Range(0, 4).Select(async i =>
        {
            using var client = Http.Client(_c.Frontends[i % 2].Url);
            using var response = await client.GetAsync($"/v2/orphan/blobs/{layer.Digest}", HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync();
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            var buffer = new byte[65536];
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                Interlocked.Add(ref received[i], n);
            }
            return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
        }).ToList();

        // Kill the lease holder once every client is well into the body.
        await MirrorProcess.WaitUntilAsync(() => Task.FromResult(received.All(r => r > 16L * 1024 * 1024)), TimeSpan.FromSeconds(60), "clients streaming");
        var ownerAddress = await _c.ScalarAsync<string>("select owner_address from mirror_leases where digest = @d", ("d", layer.Digest));
        var owner = _c.Silos.Single(s => s.Url.ToString().TrimEnd('/') == ownerAddress);
        owner.Process.Signal(9);
        output.WriteLine($"killed owner {ownerAddress} at {received.Min() / (1024 * 1024)} MiB");

        var digests = await Task.WhenAll(pulls);
        Assert.All(digests, d => Assert.Equal(layer.Digest, d));
        // Outcome reached: the clients' connections were never broken; the frontends resumed at the same offset.
        long resumes = 0;
        foreach (var fe in _c.Frontends) resumes += await fe.MetricAsync("mirror_blob_resumes_total");
        Assert.True(resumes >= 1, "the frontends resumed from a new owner");
        Assert.Equal(2, _c.Proxy.CountBlobGets(layer.Digest));
        await _c.AssertBucketHoldsOnlyVerifiedBlobsAsync();
        // The dead owner's multipart upload is aborted by a surviving silo's janitor.
        await MirrorProcess.WaitUntilAsync(async () => await _c.ScalarAsync<long>("select count(*) from mirror_uploads") == 0,
            TimeSpan.FromSeconds(60), "orphaned upload aborted");
    }

    [Fact]
    public async Task WithPostgresStoppedBlobsInS3AreStillServed()
    {
        var image = await new ImageBuilder().WithRandomLayer(2 * 1024 * 1024, seed: 521).WithRandomLayer(4096, seed: 522)
            .PushAsync(_c.Upstream, "library/nopg", "v1");
        foreach (var fe in _c.Frontends)
        {
            using var client = Http.Client(fe.Url);
            using (var m = await Http.ManifestAsync(client, "nopg", "v1")) m.EnsureSuccessStatusCode();
            foreach (var blob in image.Blobs) Assert.Equal(blob.Digest, (await Http.BlobDigestAsync(client, "nopg", blob.Digest)).Digest);
        }
        foreach (var blob in image.Blobs) Assert.True(await _c.InS3Async(blob.Digest));

        await _c.Postgres.StopAsync();
        try
        {
            foreach (var fe in _c.Frontends)
            {
                using var client = Http.Client(fe.Url);
                foreach (var blob in image.Blobs)
                {
                    Assert.Equal((blob.Digest, blob.Size), await Http.BlobDigestAsync(client, "nopg", blob.Digest));
                }
                using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/nopg/blobs/{image.Layers[0].Digest}"));
                Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            }
            // A cold blob needs a lease, hence PostgreSQL: it is refused as unavailable, never with a 500.
            var cold = await new ImageBuilder().WithRandomLayer(4096, seed: 523).PushAsync(_c.Upstream, "library/nopg-cold", "v1");
            using var coldClient = Http.Client(_c.Frontends[0].Url);
            using var refused = await coldClient.GetAsync($"/v2/nopg-cold/blobs/{cold.Layers[0].Digest}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("UNAVAILABLE", await Http.ErrorCodeAsync(refused));
        }
        finally
        {
            await _c.Postgres.StartAsync();
        }
    }

    [Fact]
    public async Task ConcurrentColdTagRequestsOverBothFrontendsReachTheUpstreamOnce()
    {
        var image = await new ImageBuilder().WithRandomLayer(1000, seed: 531).PushAsync(_c.Upstream, "library/tagherd", "v1");
        // Hold the upstream's answer until every request is in, so they all wait on the same single flight.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _c.Proxy.SetFault(Fault.Hold(release.Task) with { Times = 1 });
        try
        {
            var gets = Enumerable.Range(0, 20).Select(async i =>
            {
                using var client = Http.Client(_c.Frontends[i % 2].Url);
                using var r = await Http.ManifestAsync(client, "tagherd", "v1");
                r.EnsureSuccessStatusCode();
                return r.Headers.GetValues("Docker-Content-Digest").Single();
            }).ToList();
            await _c.Proxy.WaitForRequestAsync(r => r.Path == "/v2/library/tagherd/manifests/v1", TimeSpan.FromSeconds(30));
            release.SetResult();
            Assert.All(await Task.WhenAll(gets), d => Assert.Equal(image.Digest, d));
        }
        finally
        {
            release.TrySetResult();
            _c.Proxy.ClearFaults();
        }
        Assert.Equal(1, _c.Proxy.Count("GET", "/v2/library/tagherd/manifests/v1") + _c.Proxy.Count("HEAD", "/v2/library/tagherd/manifests/v1"));
        // The answer is shared through PostgreSQL.
        Assert.Equal(image.Digest, await _c.ScalarAsync<string>(
            "select digest from mirror_tags where registry = 'docker.io' and repository = 'library/tagherd' and tag = 'v1'"));
    }

    [Fact]
    public async Task CommittedBlobsRedirectToPresignedUrlsWhenEnabled()
    {
        var image = await new ImageBuilder().WithRandomLayer(1024 * 1024, seed: 541).PushAsync(_c.Upstream, "library/cdn", "v1");
        var layer = image.Layers[0];
        var settings = _c.Settings("cdn-frontend");
        settings["Storage:S3:RedirectBlobs"] = "true";
        await using var cdn = await MirrorProcess.StartFrontendAsync(settings);
        using var noRedirects = Http.Client(cdn.Url, followRedirects: false);

        // A miss streams (nothing to redirect to yet) and commits.
        using (var m = await Http.ManifestAsync(noRedirects, "cdn", "v1")) m.EnsureSuccessStatusCode();
        Assert.Equal(layer.Digest, (await Http.BlobDigestAsync(noRedirects, "cdn", layer.Digest)).Digest);
        await MirrorProcess.WaitUntilAsync(() => _c.InS3Async(layer.Digest), TimeSpan.FromSeconds(30), "commit");

        using var hit = await noRedirects.GetAsync($"/v2/cdn/blobs/{layer.Digest}");
        Assert.Equal(HttpStatusCode.TemporaryRedirect, hit.StatusCode);
        var location = hit.Headers.Location!;
        Assert.StartsWith(_c.S3.ServiceUrl.ToString().TrimEnd('/'), location.ToString());
        using var direct = new HttpClient();
        await using var body = await direct.GetStreamAsync(location);
        Assert.Equal((layer.Digest, layer.Size), await Http.HashAsync(body));

        // The access check still applies before any redirect.
        using var other = await noRedirects.GetAsync($"/v2/elsewhere/blobs/{layer.Digest}");
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    private static async Task<(string, long)> HashRestAsync(Stream body, System.Security.Cryptography.IncrementalHash hash)
    {
        var buffer = new byte[65536];
        long total = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }
        return ("", total);
    }
}
