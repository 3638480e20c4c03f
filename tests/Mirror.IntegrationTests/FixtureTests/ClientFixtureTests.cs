using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Mirror.IntegrationTests.Infrastructure;
using Npgsql;
using Xunit;

namespace Mirror.IntegrationTests.FixtureTests;

/// <summary>
/// Proves that each service and client fixture really works, end to end, before any product test relies on it.
/// The "mirror" here is a plain CNCF registry (docker-registry) holding a tiny busybox image, so a failure points
/// at the fixture, not at the product.
/// </summary>
public sealed class ClientFixtureTests
{
    private static readonly string[] PullLineMarkers = ["/v2/library/tiny/manifests/1.0", "/v2/library/tiny/blobs/sha256:"];

    [Fact]
    public async Task PostgresAcceptsConnectionsAndSurvivesStopAndStart()
    {
        await using var postgres = await PostgresServer.CreateAsync();
        var connectionString = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Pooling = false }.ConnectionString;

        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            Assert.Equal("mirror", connection.Database);
            await Execute(connection, "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')");
        }

        await postgres.StopAsync();
        await using (var down = new NpgsqlConnection(connectionString))
        {
            await Assert.ThrowsAsync<NpgsqlException>(() => down.OpenAsync());
        }

        await postgres.StartAsync();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var select = new NpgsqlCommand("SELECT v FROM t", connection);
            Assert.Equal("kept", await select.ExecuteScalarAsync());
        }

        var other = await postgres.CreateDatabaseAsync("second");
        await using (var connection = new NpgsqlConnection(other))
        {
            await connection.OpenAsync();
            Assert.Equal("second", connection.Database);
        }

        static async Task Execute(NpgsqlConnection connection, string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task S3ServerSupportsWhatTheBlobStoreUsesThroughAwsSdk()
    {
        // AWS_CA_BUNDLE is set on these machines; the endpoint is plain HTTP, so the SDK must simply not trip over it.
        await using var s3 = await S3Server.CreateAsync("fixture-bucket");
        using var client = new AmazonS3Client(new BasicAWSCredentials(s3.AccessKey, s3.SecretKey), new AmazonS3Config
        {
            ServiceURL = s3.ServiceUrl.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = s3.Region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

        // Bucket-level requests (signed by the SDK with a trailing slash).
        await client.PutBucketAsync(new PutBucketRequest { BucketName = "made-by-test" });
        var buckets = await client.ListBucketsAsync();
        Assert.Contains(buckets.Buckets!, b => b.BucketName == "made-by-test");
        Assert.Contains(buckets.Buckets!, b => b.BucketName == s3.Bucket);

        // Streamed upload of unknown-to-the-SDK origin (non-seekable stream, aws-chunked signing): stored byte-exact.
        var streamed = RandomBytes(3 * 1024 * 1024 + 123);
        var put = new PutObjectRequest
        {
            BucketName = s3.Bucket,
            Key = "blobs/streamed",
            InputStream = new NonSeekableStream(streamed),
            AutoCloseStream = true,
        };
        put.Headers.ContentLength = streamed.Length;
        await client.PutObjectAsync(put);
        Assert.Equal(Sha256(streamed), Sha256(await GetBytes(client, s3.Bucket, "blobs/streamed")));

        // HeadObject and a ranged GetObject.
        var head = await client.GetObjectMetadataAsync(s3.Bucket, "blobs/streamed");
        Assert.Equal(streamed.Length, head.ContentLength);
        using (var ranged = await client.GetObjectAsync(new GetObjectRequest
        {
            BucketName = s3.Bucket,
            Key = "blobs/streamed",
            ByteRange = new ByteRange(1000, 1999),
        }))
        {
            Assert.Equal(streamed.AsSpan(1000, 1000).ToArray(), await ReadAll(ranged.ResponseStream));
        }

        // Multipart upload: two parts (the first at S3's 5 MiB minimum), completed.
        var part1 = RandomBytes(5 * 1024 * 1024);
        var part2 = RandomBytes(777_777);
        var upload = await client.InitiateMultipartUploadAsync(s3.Bucket, "blobs/multipart");
        var etag1 = await UploadPart(client, s3.Bucket, "blobs/multipart", upload.UploadId, 1, part1);
        var etag2 = await UploadPart(client, s3.Bucket, "blobs/multipart", upload.UploadId, 2, part2);
        await client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = s3.Bucket,
            Key = "blobs/multipart",
            UploadId = upload.UploadId,
            PartETags = [new PartETag(1, etag1), new PartETag(2, etag2)],
        });
        Assert.Equal(Sha256([.. part1, .. part2]), Sha256(await GetBytes(client, s3.Bucket, "blobs/multipart")));

        // Multipart upload, aborted: no object appears.
        var aborted = await client.InitiateMultipartUploadAsync(s3.Bucket, "blobs/aborted");
        await UploadPart(client, s3.Bucket, "blobs/aborted", aborted.UploadId, 1, RandomBytes(1024));
        await client.AbortMultipartUploadAsync(s3.Bucket, "blobs/aborted", aborted.UploadId);
        var gone = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => client.AbortMultipartUploadAsync(s3.Bucket, "blobs/aborted", aborted.UploadId));
        Assert.Equal("NoSuchUpload", gone.ErrorCode);

        var listed = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = s3.Bucket, Prefix = "blobs/" });
        Assert.Equal(["blobs/multipart", "blobs/streamed"], listed.S3Objects!.Select(o => o.Key).Order().ToArray());

        // A presigned GET works with a plain HttpClient (the CDN / 307-redirect path).
        var url = client.GetPreSignedURL(new GetPreSignedUrlRequest
        {
            BucketName = s3.Bucket,
            Key = "blobs/multipart",
            Verb = HttpVerb.GET,
            Protocol = Protocol.HTTP,
            Expires = DateTime.UtcNow.AddMinutes(10),
        });
        using (var http = new HttpClient())
        {
            var bytes = await http.GetByteArrayAsync(url);
            Assert.Equal(Sha256([.. part1, .. part2]), Sha256(bytes));
            using var tampered = await http.GetAsync(url.Replace("blobs/multipart", "blobs/streamed"));
            Assert.Equal(HttpStatusCode.Forbidden, tampered.StatusCode);
        }

        // DeleteObject, then the object is gone.
        await client.DeleteObjectAsync(s3.Bucket, "blobs/streamed");
        var missing = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => client.GetObjectMetadataAsync(s3.Bucket, "blobs/streamed"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // Signatures are really checked: a wrong secret is refused.
        using var impostor = new AmazonS3Client(new BasicAWSCredentials(s3.AccessKey, "wrong"), new AmazonS3Config
        {
            ServiceURL = s3.ServiceUrl.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = s3.Region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });
        var refused = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => impostor.ListObjectsV2Async(new ListObjectsV2Request { BucketName = s3.Bucket }));
        Assert.Equal("SignatureDoesNotMatch", refused.ErrorCode);
    }

    [Fact]
    public async Task DockerdPullsAndRunsDockerHubImagesThroughRegistryMirror()
    {
        await using var registry = await PlainRegistry.StartAsync();
        // Two daemons at once: each has its own data root, exec root, containerd and socket.
        var starting = new[] { Dockerd.CreateAsync(registry.Url), Dockerd.CreateAsync(registry.Url) };
        try { await Task.WhenAll(starting); }
        catch
        {
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully)) await (await started).DisposeAsync();
            throw;
        }
        await using var first = await starting[0];
        await using var second = await starting[1];

        var pulled = await first.PullAsync("docker.io/library/tiny:1.0");
        Assert.True(pulled.ExitCode == 0, pulled.Output);
        Assert.Contains($"Digest: {registry.TinyDigest}", pulled.Output);
        var requests = registry.RequestsFrom("docker/20.10");
        Assert.Contains(requests, l => l.Contains("GET /v2/ "));
        Assert.All(PullLineMarkers, marker => Assert.Contains(requests, l => l.Contains(marker)));

        var run = await first.RunAsync("tiny:1.0", "/bin/sh", "-c", "echo ran as $(cat /etc/hostname)");
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.StartsWith("ran as ", run.Output);
        var defaultCommand = await first.RunAsync("tiny:1.0");
        Assert.Equal("hello", defaultCommand.Output.Trim());

        var inspect = await first.ImageInspectAsync("docker.io/library/tiny:1.0");
        Assert.True(inspect.ExitCode == 0, inspect.Output);
        using (var json = JsonDocument.Parse(inspect.Output))
        {
            Assert.Contains($"tiny@{registry.TinyDigest}", json.RootElement[0].GetProperty("RepoDigests").EnumerateArray().Select(e => e.GetString()));
        }

        var otherDaemon = await second.ImageInspectAsync("tiny:1.0");
        Assert.NotEqual(0, otherDaemon.ExitCode); // nothing leaks between instances
        var secondPull = await second.PullAsync("tiny:1.0");
        Assert.True(secondPull.ExitCode == 0, secondPull.Output);

        var absent = await first.PullAsync("docker.io/library/tiny:no-such-tag");
        Assert.NotEqual(0, absent.ExitCode);
    }

    [Fact]
    public async Task ContainerdPullsThroughHostsTomlForAnyRegistry()
    {
        await using var registry = await PlainRegistry.StartAsync();
        await using var containerd = await Containerd.CreateAsync(registry.Url);

        var hub = await containerd.PullAsync("docker.io/library/tiny:1.0");
        Assert.True(hub.ExitCode == 0, hub.Output);
        Assert.Contains(registry.RequestsFrom("containerd/"), l => l.Contains("/v2/library/tiny/manifests/1.0?ns=docker.io"));

        var ghcr = await containerd.PullAsync("ghcr.io/org/app:1.0");
        Assert.True(ghcr.ExitCode == 0, ghcr.Output);
        Assert.Contains(registry.RequestsFrom("containerd/"), l => l.Contains("/v2/org/app/manifests/1.0?ns=ghcr.io"));

        var arm = await containerd.PullAsync("docker.io/library/tiny:multi", platform: "linux/arm64");
        Assert.True(arm.ExitCode == 0, arm.Output);
        Assert.Contains(registry.RequestsFrom("containerd/"), l => l.Contains($"/v2/library/tiny/manifests/{registry.ArmDigest}"));

        var all = await containerd.PullAsync("docker.io/library/tiny:multi", allPlatforms: true);
        Assert.True(all.ExitCode == 0, all.Output);
        Assert.Contains(registry.RequestsFrom("containerd/"), l => l.Contains($"/v2/library/tiny/manifests/{registry.AmdOciDigest}"));

        var images = await containerd.CtrAsync("images", "list", "-q");
        Assert.Contains("ghcr.io/org/app:1.0", images.Output);

        var absent = await containerd.PullAsync("docker.io/library/tiny:no-such-tag");
        Assert.NotEqual(0, absent.ExitCode);
    }

    [Fact]
    public async Task PodmanPullsThroughRegistriesConfMirrors()
    {
        await using var registry = await PlainRegistry.StartAsync();
        await using var podman = Podman.Create([RegistryMirror.OnPort("docker.io", registry.Port), RegistryMirror.OnPort("ghcr.io", registry.Port)]);

        var hub = await podman.PullAsync("docker.io/library/tiny:1.0");
        Assert.True(hub.ExitCode == 0, hub.Output);
        var ghcr = await podman.PullAsync("ghcr.io/org/app:1.0");
        Assert.True(ghcr.ExitCode == 0, ghcr.Output);

        var requests = registry.RequestsFrom("containers/");
        Assert.All(PullLineMarkers, marker => Assert.Contains(requests, l => l.Contains(marker)));
        Assert.Contains(requests, l => l.Contains("/v2/ghcr.io/org/app/manifests/1.0"));

        var inspect = await podman.ImageInspectAsync("ghcr.io/org/app:1.0");
        Assert.True(inspect.ExitCode == 0, inspect.Output);

        var absent = await podman.PullAsync("docker.io/library/tiny:no-such-tag");
        Assert.NotEqual(0, absent.ExitCode);
    }

    [Fact]
    public async Task SkopeoCopiesThroughMirrorAndByPathPrefix()
    {
        await using var registry = await PlainRegistry.StartAsync();
        await using var skopeo = Skopeo.Create([RegistryMirror.OnPort("docker.io", registry.Port), RegistryMirror.OnPort("ghcr.io", registry.Port)]);

        var viaMirror = await skopeo.CopyAsync("docker.io/library/tiny:1.0");
        Assert.True(viaMirror.ExitCode == 0, viaMirror.Output);
        Assert.True(File.Exists(Path.Combine(viaMirror.Directory, "manifest.json")));
        Assert.Contains(registry.RequestsFrom("skopeo/"), l => l.Contains("GET /v2/library/tiny/manifests/1.0"));

        var direct = await skopeo.CopyDirectAsync($"127.0.0.1:{registry.Port}/ghcr.io/org/app:1.0");
        Assert.True(direct.ExitCode == 0, direct.Output);
        Assert.Contains(registry.RequestsFrom("skopeo/"), l => l.Contains("GET /v2/ghcr.io/org/app/manifests/1.0"));

        var inspect = await skopeo.InspectAsync("docker.io/library/tiny:1.0");
        Assert.True(inspect.ExitCode == 0, inspect.Output);
        using (var json = JsonDocument.Parse(inspect.Output))
        {
            Assert.Equal(registry.TinyDigest, json.RootElement.GetProperty("Digest").GetString());
        }
        var raw = await skopeo.InspectAsync($"127.0.0.1:{registry.Port}/library/tiny:multi", raw: true);
        Assert.True(raw.ExitCode == 0, raw.Output);
        using (var json = JsonDocument.Parse(raw.Output))
        {
            Assert.Equal("application/vnd.oci.image.index.v1+json", json.RootElement.GetProperty("mediaType").GetString());
        }

        var absent = await skopeo.CopyAsync("docker.io/library/tiny:no-such-tag");
        Assert.NotEqual(0, absent.ExitCode);
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static async Task<byte[]> ReadAll(Stream stream)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private static async Task<byte[]> GetBytes(IAmazonS3 client, string bucket, string key)
    {
        using var response = await client.GetObjectAsync(bucket, key);
        return await ReadAll(response.ResponseStream);
    }

    private static async Task<string> UploadPart(IAmazonS3 client, string bucket, string key, string uploadId, int number, byte[] bytes)
    {
        var response = await client.UploadPartAsync(new UploadPartRequest
        {
            BucketName = bucket,
            Key = key,
            UploadId = uploadId,
            PartNumber = number,
            InputStream = new MemoryStream(bytes),
            PartSize = bytes.Length,
        });
        return response.ETag;
    }

    /// <summary>A read-only stream that cannot seek, as a network body would be: the SDK must stream it.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>
    /// A plain CNCF registry (Debian's docker-registry) on 127.0.0.1 standing in for the mirror, holding a busybox
    /// image built with umoci and pushed with skopeo: <c>library/tiny:1.0</c> (Docker v2s2, amd64),
    /// <c>org/app:1.0</c> and <c>ghcr.io/org/app:1.0</c> (the same image, for hosts.toml and path-prefix routing) and
    /// <c>library/tiny:multi</c>, an OCI index of an amd64 and an arm64 manifest.
    /// </summary>
    private sealed class PlainRegistry : IAsyncDisposable
    {
        private readonly TempDir _dir;
        private readonly ChildProcess _process;

        private PlainRegistry(TempDir dir, ChildProcess process, int port)
        {
            _dir = dir;
            _process = process;
            Port = port;
        }

        /// <summary>The registry's port on 127.0.0.1.</summary>
        public int Port { get; }

        /// <summary>Base URL, e.g. <c>http://127.0.0.1:5000</c>.</summary>
        public string Url => $"http://127.0.0.1:{Port}";

        /// <summary>Digest of the v2s2 manifest of <c>library/tiny:1.0</c>.</summary>
        public string TinyDigest { get; private set; } = "";

        /// <summary>Digest of the amd64 OCI manifest in <c>library/tiny:multi</c>.</summary>
        public string AmdOciDigest { get; private set; } = "";

        /// <summary>Digest of the arm64 OCI manifest in <c>library/tiny:multi</c>.</summary>
        public string ArmDigest { get; private set; } = "";

        /// <summary>Access-log lines of requests whose User-Agent starts with <paramref name="userAgentPrefix"/>.</summary>
        public string[] RequestsFrom(string userAgentPrefix) =>
            _process.Output.Split('\n').Where(l => l.Contains("\"\" \"" + userAgentPrefix, StringComparison.Ordinal)).ToArray();

        /// <summary>Starts an empty registry and pushes the test images.</summary>
        public static async Task<PlainRegistry> StartAsync()
        {
            var dir = new TempDir("registry");
            var port = Ports.GetFree();
            File.WriteAllText(dir.Combine("config.yml"), $"""
                version: 0.1
                log:
                  level: info
                storage:
                  filesystem:
                    rootdirectory: {dir.Combine("data")}
                http:
                  addr: 127.0.0.1:{port}
                """);
            var process = ChildProcess.Start(HostTools.Find("docker-registry"), ["serve", dir.Combine("config.yml")],
                dir.Combine("registry.log"), workingDirectory: dir.Path,
                environment: new Dictionary<string, string?> { ["AWS_CA_BUNDLE"] = null });
            var registry = new PlainRegistry(dir, process, port);
            try
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
                await process.WaitUntilAsync(async () =>
                {
                    using var response = await http.GetAsync($"{registry.Url}/v2/");
                    return response.StatusCode == HttpStatusCode.OK;
                }, TimeSpan.FromSeconds(30), "docker-registry /v2/");
                await registry.PushTestImagesAsync();
                return registry;
            }
            catch
            {
                await registry.DisposeAsync();
                throw;
            }
        }

        private async Task PushTestImagesAsync()
        {
            var layout = _dir.Combine("oci");
            var bundle = _dir.Combine("bundle");
            await Run("umoci", "init", "--layout", layout);
            await Run("umoci", "new", "--image", $"{layout}:amd64");
            await Run("umoci", "unpack", "--rootless", "--image", $"{layout}:amd64", bundle);
            var bin = Path.Combine(bundle, "rootfs", "bin");
            Directory.CreateDirectory(bin);
            File.Copy(HostTools.Find("busybox"), Path.Combine(bin, "busybox"));
            foreach (var applet in new[] { "sh", "echo", "cat", "wc" }) File.CreateSymbolicLink(Path.Combine(bin, applet), "busybox");
            Directory.CreateDirectory(Path.Combine(bundle, "rootfs", "etc"));
            await Run("umoci", "repack", "--refresh-bundle", "--image", $"{layout}:amd64", bundle);
            await Run("umoci", "config", "--image", $"{layout}:amd64", "--os", "linux", "--architecture", "amd64",
                "--config.cmd", "/bin/echo", "--config.cmd", "hello");
            await Run("umoci", "config", "--image", $"{layout}:amd64", "--tag", "arm64", "--architecture", "arm64");

            var policy = _dir.Combine("policy.json");
            RegistryMirror.WritePermissivePolicy(policy);
            var target = $"127.0.0.1:{Port}";
            foreach (var repo in new[] { "library/tiny:1.0", "org/app:1.0", "ghcr.io/org/app:1.0" })
            {
                await Run("skopeo", "--policy", policy, "copy", "--dest-tls-verify=false", "--format", "v2s2", $"oci:{layout}:amd64", $"docker://{target}/{repo}");
            }
            await Run("skopeo", "--policy", policy, "copy", "--dest-tls-verify=false", "--format", "oci", $"oci:{layout}:amd64", $"docker://{target}/library/tiny:amd64-oci");
            await Run("skopeo", "--policy", policy, "copy", "--dest-tls-verify=false", "--format", "oci", $"oci:{layout}:arm64", $"docker://{target}/library/tiny:arm64-oci");

            using var http = new HttpClient { BaseAddress = new Uri(Url) };
            TinyDigest = (await GetManifest(http, "1.0", "application/vnd.docker.distribution.manifest.v2+json")).Digest;
            var amd = await GetManifest(http, "amd64-oci", "application/vnd.oci.image.manifest.v1+json");
            var arm = await GetManifest(http, "arm64-oci", "application/vnd.oci.image.manifest.v1+json");
            (AmdOciDigest, ArmDigest) = (amd.Digest, arm.Digest);
            var index = JsonSerializer.Serialize(new
            {
                schemaVersion = 2,
                mediaType = "application/vnd.oci.image.index.v1+json",
                manifests = new[]
                {
                    new { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = amd.Digest, size = amd.Size, platform = new { architecture = "amd64", os = "linux" } },
                    new { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = arm.Digest, size = arm.Size, platform = new { architecture = "arm64", os = "linux" } },
                },
            });
            using var content = new StringContent(index, Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.index.v1+json");
            using var put = await http.PutAsync("/v2/library/tiny/manifests/multi", content);
            Assert.True(put.StatusCode == HttpStatusCode.Created, $"PUT index: {put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }

        private static async Task<(string Digest, long Size)> GetManifest(HttpClient http, string tag, string mediaType)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/library/tiny/manifests/{tag}");
            request.Headers.Accept.ParseAdd(mediaType);
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadAsByteArrayAsync();
            return ("sha256:" + Sha256(body), body.Length);
        }

        private async Task Run(string tool, params string[] args)
        {
            var (exitCode, output) = await ChildProcess.RunAsync(HostTools.Find(tool), args, TimeSpan.FromMinutes(2), workingDirectory: _dir.Path);
            Assert.True(exitCode == 0, $"{tool} {string.Join(' ', args)} exited with {exitCode}:\n{output}");
        }

        /// <inheritdoc />
        public async ValueTask DisposeAsync()
        {
            await _process.DisposeAsync();
            _dir.Dispose();
        }
    }
}
