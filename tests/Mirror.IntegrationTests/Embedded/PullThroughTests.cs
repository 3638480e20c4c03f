using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Embedded;

/// <summary>The single-node mirror against a real upstream: byte-exact pulls, streaming, verification, ranges, tags.</summary>
public sealed class PullThroughTests(EmbeddedFixture f) : IClassFixture<EmbeddedFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task BaseEndpointAnswersWithApiVersion()
    {
        using var response = await f.Client.GetAsync("/v2/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", response.Headers.GetValues("Docker-Distribution-API-Version").Single());
        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData(ManifestFormat.Docker)]
    [InlineData(ManifestFormat.Oci)]
    public async Task PullsImageByteExactWithRegistryHeaders(ManifestFormat format)
    {
        var repo = $"library/pull-{format.ToString().ToLowerInvariant()}";
        var image = await new ImageBuilder().WithFormat(format).WithRunnableLayer().WithRandomLayer(3 * 1024 * 1024, seed: 21)
            .WithRandomLayer(1024, seed: 22).PushAsync(f.Upstream, repo, "v1");
        var name = repo["library/".Length..]; // one-component name: the mirror adds library/

        using (var head = await Http.ManifestAsync(f.Client, name, "v1", HttpMethod.Head))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(image.MediaType, head.Content.Headers.ContentType!.MediaType);
            Assert.Equal(image.ManifestBytes.Length, head.Content.Headers.ContentLength);
            Assert.Equal(image.Digest, head.Headers.GetValues("Docker-Content-Digest").Single());
            Assert.Equal($"\"{image.Digest}\"", head.Headers.ETag!.Tag);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
        using (var get = await Http.ManifestAsync(f.Client, name, "v1"))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(image.ManifestBytes, await get.Content.ReadAsByteArrayAsync());
        }
        using (var byDigest = await Http.ManifestAsync(f.Client, name, image.Digest))
        {
            Assert.Equal(image.ManifestBytes, await byDigest.Content.ReadAsByteArrayAsync());
        }
        foreach (var blob in image.Blobs)
        {
            using var head = await f.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v2/{name}/blobs/{blob.Digest}"));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(blob.Size, head.Content.Headers.ContentLength);
            Assert.Equal(blob.Digest, head.Headers.GetValues("Docker-Content-Digest").Single());
            Assert.Equal("application/octet-stream", head.Content.Headers.ContentType!.MediaType);
            Assert.NotNull(head.Headers.ETag);
            var (digest, size) = await Http.BlobDigestAsync(f.Client, name, blob.Digest);
            Assert.Equal((blob.Digest, blob.Size), (digest, size));
        }
        // Served a second time from the cache: the upstream saw each blob GET once.
        foreach (var blob in image.Blobs)
        {
            Assert.Equal(blob.Digest, (await Http.BlobDigestAsync(f.Client, name, blob.Digest)).Digest);
            Assert.Equal(1, f.Proxy.CountBlobGets(blob.Digest));
        }
    }

    [Theory]
    [InlineData(ManifestFormat.Docker)]
    [InlineData(ManifestFormat.Oci)]
    public async Task IndexAndItsManifestsAreServedByDigestWhenTheUpstreamIsDown(ManifestFormat format)
    {
        var repo = $"library/multi-{format.ToString().ToLowerInvariant()}";
        var index = await ImageBuilder.PushIndexAsync(f.Upstream, repo, "v1", format,
        [
            new ImageBuilder().WithPlatform("amd64").WithRandomLayer(2048, seed: 31),
            new ImageBuilder().WithPlatform("arm64").WithRandomLayer(2048, seed: 32),
        ]);
        using (var get = await Http.ManifestAsync(f.Client, repo, "v1"))
        {
            Assert.Equal(index.MediaType, get.Content.Headers.ContentType!.MediaType);
            Assert.Equal(index.ManifestBytes, await get.Content.ReadAsByteArrayAsync());
        }
        foreach (var child in index.Children)
        {
            using var get = await Http.ManifestAsync(f.Client, repo, child.Digest);
            Assert.Equal(child.ManifestBytes, await get.Content.ReadAsByteArrayAsync());
        }

        f.Proxy.SetFault(Fault.Down());
        try
        {
            // containerd asks for the index by digest after resolving the tag: a hit, no upstream needed.
            using var byDigest = await Http.ManifestAsync(f.Client, repo, index.Digest);
            Assert.Equal(HttpStatusCode.OK, byDigest.StatusCode);
            Assert.Equal(index.ManifestBytes, await byDigest.Content.ReadAsByteArrayAsync());
            foreach (var child in index.Children)
            {
                using var get = await Http.ManifestAsync(f.Client, repo, child.Digest);
                Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            }
        }
        finally
        {
            f.Proxy.ClearFaults();
        }
    }

    [Fact]
    public async Task ConcurrentColdPullsStreamBeforeTheFetchEndsAndFetchUpstreamOnce()
    {
        var image = await new ImageBuilder().WithRandomLayer(200L * 1024 * 1024, seed: 41).PushAsync(f.Upstream, "library/big", "v1");
        var layer = image.Layers[0];
        // 50 MiB/s: the fetch takes about four seconds, long enough to see followers stream while it runs.
        f.Proxy.SetFault(layer.Digest, Fault.Throttle(50L * 1024 * 1024));
        var commitsBefore = await f.Mirror.MetricAsync("mirror_blob_commits_total");
        try
        {
            var firstBytes = new List<bool>();
            var pulls = Enumerable.Range(0, 8).Select(async i =>
            {
                using var client = Http.Client(f.Mirror.Url);
                using var response = await client.GetAsync($"/v2/big/blobs/{layer.Digest}", HttpCompletionOption.ResponseHeadersRead);
                response.EnsureSuccessStatusCode();
                Assert.Equal(layer.Size, response.Content.Headers.ContentLength);
                await using var body = await response.Content.ReadAsStreamAsync();
                var first = new byte[1024 * 1024];
                await body.ReadExactlyAsync(first);
                // The first MiB arrived while the blob was still being fetched: streaming, not store-and-forward.
                var committedAlready = await f.Mirror.MetricAsync("mirror_blob_commits_total") > commitsBefore;
                lock (firstBytes) firstBytes.Add(!committedAlready);
                var rest = await Http.HashAsync(new PrefixedStream(first, body));
                return rest;
            }).ToList();
            var results = await Task.WhenAll(pulls);
            Assert.All(results, r => Assert.Equal((layer.Digest, layer.Size), r));
            Assert.All(firstBytes, Assert.True);
            Assert.Equal(1, f.Proxy.CountBlobGets(layer.Digest));
        }
        finally
        {
            f.Proxy.ClearFaults();
        }
    }

    [Fact]
    public async Task ClientThatHangsUpDoesNotCancelTheCacheFill()
    {
        var image = await new ImageBuilder().WithRandomLayer(20L * 1024 * 1024, seed: 51).PushAsync(f.Upstream, "library/hangup", "v1");
        var layer = image.Layers[0];
        f.Proxy.SetFault(layer.Digest, Fault.Throttle(10L * 1024 * 1024));
        var commitsBefore = await f.Mirror.MetricAsync("mirror_blob_commits_total");
        try
        {
            using (var client = Http.Client(f.Mirror.Url))
            using (var response = await client.GetAsync($"/v2/hangup/blobs/{layer.Digest}", HttpCompletionOption.ResponseHeadersRead))
            {
                await using var body = await response.Content.ReadAsStreamAsync();
                await body.ReadExactlyAsync(new byte[64 * 1024]);
            } // disposed mid-body: the client is gone
            await MirrorProcess.WaitUntilAsync(async () => await f.Mirror.MetricAsync("mirror_blob_commits_total") > commitsBefore, Deadline, "cache fill");
            Assert.Equal(layer.Digest, (await Http.BlobDigestAsync(f.Client, "hangup", layer.Digest)).Digest);
            Assert.Equal(1, f.Proxy.CountBlobGets(layer.Digest));
        }
        finally
        {
            f.Proxy.ClearFaults();
        }
    }

    [Fact]
    public async Task CorruptedUpstreamBlobIsNeverCommittedNorServed()
    {
        // Several rounds, each asking again at once: the retry lands right when the failed fetch is being cleaned up.
        for (var round = 0; round < 5; round++)
        {
            var image = await new ImageBuilder().WithRandomLayer(5L * 1024 * 1024, seed: 61 + round * 1000).PushAsync(f.Upstream, "library/corrupt", $"v{round}");
            var layer = image.Layers[0];
            f.Proxy.SetFault(layer.Digest, Fault.FlipByte(4242) with { Times = 1 });
            // The body is withheld at its last byte until verified, then the connection is aborted: never a clean end.
            await Assert.ThrowsAnyAsync<Exception>(() => Http.BlobDigestAsync(f.Client, "corrupt", layer.Digest));
            Assert.False(File.Exists(BlobPath(layer.Digest)), "a corrupt blob reached the cache");

            var (digest, size) = await Http.BlobDigestAsync(f.Client, "corrupt", layer.Digest);
            Assert.Equal((layer.Digest, layer.Size), (digest, size));
            Assert.Equal(2, f.Proxy.CountBlobGets(layer.Digest));
        }
    }

    [Fact]
    public async Task TruncatedUpstreamBlobIsNeverCommittedNorServed()
    {
        var image = await new ImageBuilder().WithRandomLayer(5L * 1024 * 1024, seed: 71).PushAsync(f.Upstream, "library/truncated", "v1");
        var layer = image.Layers[0];
        f.Proxy.SetFault(layer.Digest, Fault.Truncate(1024 * 1024));
        await Assert.ThrowsAnyAsync<Exception>(() => Http.BlobDigestAsync(f.Client, "truncated", layer.Digest));
        Assert.False(File.Exists(BlobPath(layer.Digest)), "a truncated blob reached the cache");
        f.Proxy.ClearFaults();

        Assert.Equal((layer.Digest, layer.Size), await Http.BlobDigestAsync(f.Client, "truncated", layer.Digest));
    }

    [Fact]
    public async Task UpstreamBodyThatBreaksOnceIsResumedWithARangeRequest()
    {
        var image = await new ImageBuilder().WithRandomLayer(5L * 1024 * 1024, seed: 72).PushAsync(f.Upstream, "library/resumed", "v1");
        var layer = image.Layers[0];
        f.Proxy.SetFault(layer.Digest, Fault.Truncate(1024 * 1024) with { Times = 1 });
        Assert.Equal((layer.Digest, layer.Size), await Http.BlobDigestAsync(f.Client, "resumed", layer.Digest));
        var gets = f.Proxy.Requests.Where(r => r.Method == "GET" && r.Path.EndsWith(layer.Digest)).ToList();
        Assert.Equal(2, gets.Count);
        Assert.Equal("bytes=1048576-", gets[1].Range);
        // The client's body ends at verification; the commit (flush and rename) follows right after.
        await MirrorProcess.WaitUntilAsync(() => Task.FromResult(File.Exists(BlobPath(layer.Digest))), Deadline, "commit");
    }

    [Fact]
    public async Task ChunkedUpstreamBlobIsSizedWithAHeadAndServedWithContentLength()
    {
        var image = await new ImageBuilder().WithRandomLayer(2 * 1024 * 1024, seed: 73).PushAsync(f.Upstream, "library/chunked", "v1");
        var layer = image.Layers[0];
        f.Proxy.SetFault(layer.Digest, Fault.Chunked() with { Times = 1 });
        using var response = await f.Client.GetAsync($"/v2/chunked/blobs/{layer.Digest}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(layer.Size, response.Content.Headers.ContentLength);
        await using var body = await response.Content.ReadAsStreamAsync();
        Assert.Equal((layer.Digest, layer.Size), await Http.HashAsync(body));
        Assert.Equal(1, f.Proxy.Count("HEAD", p => p.EndsWith(layer.Digest)));
    }

    [Fact]
    public async Task RangesOnCachedBlobs()
    {
        var image = await new ImageBuilder().WithRandomLayer(100_000, seed: 81).PushAsync(f.Upstream, "library/ranges", "v1");
        var layer = image.Layers[0];
        var bytes = await File.ReadAllBytesAsync(layer.LocalPath);
        var size = (int)layer.Size;
        await Http.BlobDigestAsync(f.Client, "ranges", layer.Digest);

        await AssertRangeAsync("bytes=10-19", 10, 19);
        await AssertRangeAsync($"bytes={size - 10}-", size - 10, size - 1);
        await AssertRangeAsync("bytes=-5", size - 5, size - 1);
        await AssertRangeAsync($"bytes={size - 1000}-{size * 2}", size - 1000, size - 1);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/ranges/blobs/{layer.Digest}");
        request.Headers.TryAddWithoutValidation("Range", $"bytes={size}-");
        using var unsatisfiable = await f.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.StatusCode);
        Assert.Equal($"bytes */{size}", unsatisfiable.Content.Headers.GetValues("Content-Range").Single());

        async Task AssertRangeAsync(string range, int from, int to)
        {
            using var r = new HttpRequestMessage(HttpMethod.Get, $"/v2/ranges/blobs/{layer.Digest}");
            r.Headers.TryAddWithoutValidation("Range", range);
            using var response = await f.Client.SendAsync(r);
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            Assert.Equal($"bytes {from}-{to}/{size}", response.Content.Headers.ContentRange!.ToString());
            Assert.Equal(bytes[from..(to + 1)], await response.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task RangeOnAColdBlobStreamsFromTheOffset()
    {
        var image = await new ImageBuilder().WithRandomLayer(3 * 1024 * 1024, seed: 82).PushAsync(f.Upstream, "library/coldrange", "v1");
        var layer = image.Layers[0];
        var bytes = await File.ReadAllBytesAsync(layer.LocalPath);
        using var r = new HttpRequestMessage(HttpMethod.Get, $"/v2/coldrange/blobs/{layer.Digest}");
        r.Headers.Range = new RangeHeaderValue(2_000_000, null);
        using var response = await f.Client.SendAsync(r);
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(bytes[2_000_000..], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task UnknownManifestsAndBlobsAreOciNotFound()
    {
        await new ImageBuilder().WithRandomLayer(1000, seed: 91).PushAsync(f.Upstream, "library/known", "v1");
        var unknownBefore = await f.Mirror.MetricAsync("mirror_errors_total", "code=\"MANIFEST_UNKNOWN\"");
        using var m = await Http.ManifestAsync(f.Client, "known", "nope");
        Assert.Equal(HttpStatusCode.NotFound, m.StatusCode);
        Assert.Equal("MANIFEST_UNKNOWN", await Http.ErrorCodeAsync(m));
        Assert.Equal(unknownBefore + 1, await f.Mirror.MetricAsync("mirror_errors_total", "code=\"MANIFEST_UNKNOWN\""));
        using var b = await f.Client.GetAsync($"/v2/known/blobs/sha256:{new string('0', 64)}");
        Assert.Equal(HttpStatusCode.NotFound, b.StatusCode);
        Assert.Equal("BLOB_UNKNOWN", await Http.ErrorCodeAsync(b));
        using var repo = await Http.ManifestAsync(f.Client, "never/pushed", "latest");
        Assert.Equal(HttpStatusCode.NotFound, repo.StatusCode);
    }

    [Fact]
    public async Task CachedBlobIsNotServedThroughARepositoryThatDoesNotHoldIt()
    {
        var image = await new ImageBuilder().WithRandomLayer(4096, seed: 101).PushAsync(f.Upstream, "library/holder", "v1");
        var layer = image.Layers[0];
        Assert.Equal(layer.Digest, (await Http.BlobDigestAsync(f.Client, "holder", layer.Digest)).Digest);
        await new ImageBuilder().WithRandomLayer(4096, seed: 102).PushAsync(f.Upstream, "library/other", "v1");

        // The upstream would refuse this blob in library/other, so the mirror must too, cache or not.
        using var response = await f.Client.GetAsync($"/v2/other/blobs/{layer.Digest}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("BLOB_UNKNOWN", await Http.ErrorCodeAsync(response));
    }

    [Fact]
    public async Task ClientThatExcludesTheCachedTypeIsNeverAnsweredWithIt()
    {
        var index = await ImageBuilder.PushIndexAsync(f.Upstream, "library/accept", "v1", ManifestFormat.Oci,
            [new ImageBuilder().WithPlatform("amd64").WithRandomLayer(1024, seed: 111)]);
        using (var all = await Http.ManifestAsync(f.Client, "accept", "v1"))
        {
            Assert.Equal(MediaTypes.OciIndex, all.Content.Headers.ContentType!.MediaType);
        }
        using var narrow = await Http.ManifestAsync(f.Client, "accept", "v1", HttpMethod.Get, MediaTypes.DockerManifest);
        if (narrow.StatusCode == HttpStatusCode.OK) Assert.Equal(MediaTypes.DockerManifest, narrow.Content.Headers.ContentType!.MediaType);
        else Assert.Equal("MANIFEST_UNKNOWN", await Http.ErrorCodeAsync(narrow));
        Assert.True(f.Proxy.Count("GET", p => p.EndsWith("/accept/manifests/v1")) >= 2, "the narrow Accept went to the upstream");
    }

    [Fact]
    public async Task TagListIsPassedThroughWithPaging()
    {
        foreach (var tag in new[] { "a", "b", "c" })
            await new ImageBuilder().WithRandomLayer(512, seed: 121).PushAsync(f.Upstream, "library/tagged", tag);
        using var all = await f.Client.GetAsync("/v2/tagged/tags/list");
        Assert.Equal(HttpStatusCode.OK, all.StatusCode);
        using var json = JsonDocument.Parse(await all.Content.ReadAsStringAsync());
        Assert.Equal(new[] { "a", "b", "c" }, json.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).Order().ToArray());
        using var page = await f.Client.GetAsync("/v2/tagged/tags/list?n=1&last=a");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        // The CNCF registry 2.8 does not page tags itself; what matters here is that n and last reach the upstream.
        Assert.Contains(f.Proxy.Requests, r => r.Path == "/v2/library/tagged/tags/list" && r.Query.Contains("n=1") && r.Query.Contains("last=a"));
    }

    private string BlobPath(string digest) =>
        Path.Combine(f.Mirror.Settings["CacheDirectory"], "blobs", "sha256", digest[7..9], digest[7..]);

    /// <summary>Replays bytes already read, then the rest of the stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
    {
        private int _offset;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_offset < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _offset);
                prefix.AsMemory(_offset, n).CopyTo(buffer);
                _offset += n;
                return n;
            }
            return await rest.ReadAsync(buffer, cancellationToken);
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
