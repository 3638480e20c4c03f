using System.Net;
using System.Text;
using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Embedded;

/// <summary>Malformed names, digests, references, ranges, methods and bodies: the spec's code, never 5xx, the cache unharmed.</summary>
public sealed class BadInputTests(EmbeddedFixture f) : IClassFixture<EmbeddedFixture>
{
    private const string Zero = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    public static TheoryData<string, string, string?, int, string?> Cases => new()
    {
        // method, path, Range header, expected status, expected code
        { "GET", "/v2/UPPER/manifests/latest", null, 400, "NAME_INVALID" },
        { "GET", "/v2/a..b/manifests/latest", null, 400, "NAME_INVALID" },
        { "GET", "/v2/-lead/manifests/latest", null, 400, "NAME_INVALID" },
        { "GET", "/v2/trail-/manifests/latest", null, 400, "NAME_INVALID" },
        { "GET", "/v2/" + new string('a', 256) + "/manifests/latest", null, 400, "NAME_INVALID" },
        { "GET", "/v2/a%2Fb/manifests/latest", null, 400, "NAME_INVALID" },
        { "GET", "/v2/ok/manifests/-bad", null, 400, "MANIFEST_INVALID" },
        { "GET", "/v2/ok/manifests/" + new string('t', 129), null, 400, "MANIFEST_INVALID" },
        { "GET", "/v2/ok/manifests/sha256:xyz", null, 400, "DIGEST_INVALID" },
        { "GET", "/v2/ok/blobs/sha256:short", null, 400, "DIGEST_INVALID" },
        { "GET", "/v2/ok/blobs/sha256:" + new string('A', 64), null, 400, "DIGEST_INVALID" },
        { "GET", "/v2/ok/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", null, 400, "DIGEST_INVALID" },
        { "GET", "/v2/ok/blobs/latest", null, 400, "DIGEST_INVALID" },
        { "HEAD", "/v2/ok/blobs/nope", null, 400, null },
        { "GET", "/v2/ok/unknown-endpoint", null, 404, "NAME_UNKNOWN" },
        { "PUT", "/v2/ok/manifests/latest", null, 405, "UNSUPPORTED" },
        { "DELETE", "/v2/ok/manifests/latest", null, 405, "UNSUPPORTED" },
        { "DELETE", "/v2/ok/blobs/" + Zero, null, 405, "UNSUPPORTED" },
        { "POST", "/v2/ok/blobs/uploads/", null, 405, "UNSUPPORTED" },
        { "PATCH", "/v2/ok/blobs/uploads/abc", null, 405, "UNSUPPORTED" },
        { "PUT", "/v2/ok/blobs/uploads/abc?digest=" + Zero, null, 405, "UNSUPPORTED" },
        { "POST", "/v2/", null, 405, "UNSUPPORTED" },
        { "GET", "/v2/ghcr.io./x/manifests/latest", null, 400, "NAME_INVALID" },
        { "GET", "/v2/evil.example.com/x/manifests/latest", null, 403, "DENIED" },
        { "GET", "/v2/x/manifests/latest?ns=evil.example.com", null, 403, "DENIED" },
        { "GET", "/v2/x/manifests/latest?ns=bad_ns!", null, 400, "NAME_INVALID" },
        { "GET", "/v2/ok/tags/list?n=abc", null, 400, "PAGINATION_NUMBER_INVALID" },
        { "GET", "/v2/ok/tags/list?n=-1", null, 400, "PAGINATION_NUMBER_INVALID" },
        { "GET", "/v2/ok/tags/list?last=%00", null, 400, "PAGINATION_NUMBER_INVALID" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task MalformedRequestsGetTheSpecCode(string method, string path, string? range, int status, string? code)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (range is not null) request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await f.Client.SendAsync(request);
        Assert.Equal(status, (int)response.StatusCode);
        if (code is not null) Assert.Equal(code, await Http.ErrorCodeAsync(response));
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
    }

    [Theory]
    [InlineData("bytes=abc")]
    [InlineData("bytes=5-2")]
    [InlineData("bytes=-0")]
    [InlineData("bytes=999999999-")]
    [InlineData("bytes=10-5")]
    [InlineData("bytes=99999999999999999999999-")]
    [InlineData("bytes=1-2-3")]
    public async Task MalformedOrUnsatisfiableRangesAre416AndTheCacheIsUnharmed(string range)
    {
        var image = await new ImageBuilder().WithRandomLayer(10_000, seed: 401).PushAsync(f.Upstream, "library/badrange", "v1");
        var layer = image.Layers[0];
        Assert.Equal(layer.Digest, (await Http.BlobDigestAsync(f.Client, "badrange", layer.Digest)).Digest);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/badrange/blobs/{layer.Digest}");
        request.Headers.TryAddWithoutValidation("Range", range);
        using var response = await f.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        Assert.Equal($"bytes */{layer.Size}", response.Content.Headers.GetValues("Content-Range").Single());
        Assert.Equal((layer.Digest, layer.Size), await Http.BlobDigestAsync(f.Client, "badrange", layer.Digest));
    }

    [Fact]
    public async Task HugeBodiesAndHeadersAreRefusedWithout5xx()
    {
        using var body = new HttpRequestMessage(HttpMethod.Put, "/v2/ok/manifests/latest")
        {
            Content = new ByteArrayContent(new byte[8 * 1024 * 1024]),
        };
        try
        {
            using var response = await f.Client.SendAsync(body);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        }
        catch (HttpRequestException)
        {
            // The 405 came back before the 8 MiB body was sent and the server closed the connection: refused, not a 5xx.
        }
        using var headers = new HttpRequestMessage(HttpMethod.Get, "/v2/ok/manifests/latest");
        headers.Headers.TryAddWithoutValidation("X-Big", new string('x', 200 * 1024));
        HttpResponseMessage? big = null;
        try { big = await f.Client.SendAsync(headers); }
        catch (HttpRequestException) { /* Kestrel may close the connection on an oversized header block: refused, not a 5xx */ }
        if (big is not null) Assert.InRange((int)big.StatusCode, 400, 499);
        big?.Dispose();
        using var alive = await f.Client.GetAsync("/v2/");
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    [Fact]
    public async Task ManyMalformedRequestsNeverProduceAServerError()
    {
        var random = new Random(7);
        const string alphabet = "abcAB0-_.:/%@?&=~ ";
        for (var i = 0; i < 300; i++)
        {
            var sb = new StringBuilder("/v2/");
            var length = random.Next(1, 80);
            for (var j = 0; j < length; j++) sb.Append(alphabet[random.Next(alphabet.Length)]);
            var suffix = random.Next(3) switch { 0 => "/manifests/" + (random.Next(2) == 0 ? "x" : Zero), 1 => "/blobs/" + Zero, _ => "" };
            var path = Uri.EscapeDataString(sb.ToString()).Replace("%2F", "/") + suffix;
            using var response = await f.Client.GetAsync(path);
            Assert.False(Http.IsServerError(response.StatusCode) && response.StatusCode != HttpStatusCode.ServiceUnavailable,
                $"{path} -> {(int)response.StatusCode}");
        }
    }
}

/// <summary>A NUL byte in the path never reaches the mirror: the server itself refuses it with a bare 400.</summary>
public sealed class NulInPathTests(EmbeddedFixture f) : IClassFixture<EmbeddedFixture>
{
    [Fact]
    public async Task NulInPathIs400()
    {
        using var response = await f.Client.GetAsync("/v2/a%00b/manifests/latest");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
