using Mirror.Frontend.Http;
using Mirror.Frontend.Routing;
using Mirror.Grains;
using Mirror.Grains.Upstream;
using Xunit;

namespace Mirror.UnitTests;

public sealed class DigestTests
{
    [Theory]
    [InlineData("sha256:0000000000000000000000000000000000000000000000000000000000000000", true)]
    [InlineData("sha512:00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", true)]
    [InlineData("sha256:000000000000000000000000000000000000000000000000000000000000000", false)]
    [InlineData("sha256:00000000000000000000000000000000000000000000000000000000000000000", false)]
    [InlineData("sha256:000000000000000000000000000000000000000000000000000000000000000A", false)]
    [InlineData("sha256:000000000000000000000000000000000000000000000000000000000000000g", false)]
    [InlineData("md5:00000000000000000000000000000000", false)]
    [InlineData("sha256", false)]
    [InlineData(":abc", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void ParsesOnlyValidSupportedDigests(string? text, bool valid) => Assert.Equal(valid, Digest.TryParse(text, out _));

    [Fact]
    public void Sha256OfMatchesKnownVector() =>
        Assert.Equal("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Digest.Sha256Of("abc"u8).ToString());
}

public sealed class RegistryPathTests
{
    private const string D = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    [Theory]
    [InlineData("alpine/manifests/latest", null, "docker.io", "library/alpine", RouteKind.Manifest, "latest")]
    [InlineData("library/alpine/manifests/3.19", null, "docker.io", "library/alpine", RouteKind.Manifest, "3.19")]
    [InlineData("org/app/blobs/" + D, null, "docker.io", "org/app", RouteKind.Blob, D)]
    [InlineData("org/app/manifests/" + D, "ghcr.io", "ghcr.io", "org/app", RouteKind.Manifest, D)]
    [InlineData("alpine/manifests/latest", "docker.io", "docker.io", "library/alpine", RouteKind.Manifest, "latest")]
    [InlineData("alpine/manifests/latest", "index.docker.io", "docker.io", "library/alpine", RouteKind.Manifest, "latest")]
    [InlineData("ghcr.io/org/app/manifests/1.0", null, "ghcr.io", "org/app", RouteKind.Manifest, "1.0")]
    [InlineData("registry.k8s.io/pause/manifests/3.9", null, "registry.k8s.io", "pause", RouteKind.Manifest, "3.9")]
    [InlineData("localhost:5000/a/b/tags/list", null, "localhost:5000", "a/b", RouteKind.TagList, null)]
    [InlineData("quay.io/a/manifests/x", "quay.io", "quay.io", "a", RouteKind.Manifest, "x")]
    [InlineData("quay.io/a/manifests/x", "QUAY.IO", "quay.io", "a", RouteKind.Manifest, "x")]
    [InlineData("docker.io/library/alpine/manifests/x", "index.docker.io", "docker.io", "library/alpine", RouteKind.Manifest, "x")]
    // containerd names the registry with ns=; a dotted first component is then part of the repository.
    [InlineData("google.com/cloudsdktool/cloud-sdk/manifests/latest", "gcr.io", "gcr.io", "google.com/cloudsdktool/cloud-sdk", RouteKind.Manifest, "latest")]
    [InlineData("my.team/app/blobs/" + D, "harbor.example.com", "harbor.example.com", "my.team/app", RouteKind.Blob, D)]
    [InlineData("quay.io/a/manifests/x", "ghcr.io", "ghcr.io", "quay.io/a", RouteKind.Manifest, "x")]
    [InlineData("a/manifests/b/manifests/c", null, "docker.io", "a/manifests/b", RouteKind.Manifest, "c")]
    [InlineData("a/blobs/b/blobs/" + D, null, "docker.io", "a/blobs/b", RouteKind.Blob, D)]
    [InlineData("a/b/blobs/uploads/", null, "docker.io", "a/b", RouteKind.Push, null)]
    [InlineData("a/b/blobs/uploads/1234", null, "docker.io", "a/b", RouteKind.Push, null)]
    public void RoutesToRegistryAndRepository(string path, string? ns, string registry, string repository, RouteKind kind, string? reference)
    {
        var route = RegistryPath.Parse(path, ns);
        Assert.Equal(kind, route.Kind);
        Assert.Equal(new RepositoryRef(registry, repository), route.Repository);
        Assert.Equal(reference, route.Reference);
    }

    [Theory]
    [InlineData("Alpine/manifests/latest", "NAME_INVALID")]
    [InlineData("a//b/manifests/latest", "NAME_INVALID")]
    [InlineData("a/../b/manifests/latest", "NAME_INVALID")]
    [InlineData("-a/manifests/latest", "NAME_INVALID")]
    [InlineData("a_/manifests/latest", "NAME_INVALID")]
    [InlineData("a/manifests/-tag", "MANIFEST_INVALID")]
    [InlineData("a/manifests/sha256:abc", "DIGEST_INVALID")]
    [InlineData("a/blobs/sha256:abc", "DIGEST_INVALID")]
    [InlineData("a/blobs/latest", "DIGEST_INVALID")]
    [InlineData("a/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", "DIGEST_INVALID")]
    [InlineData("a/nothing/here", "NAME_UNKNOWN")]
    [InlineData("bad_host.io/a/manifests/latest", "NAME_INVALID")]
    public void RejectsMalformedPaths(string path, string code)
    {
        var e = Assert.Throws<RegistryException>(() => RegistryPath.Parse(path, null));
        Assert.Equal(code, e.Error.Code);
        Assert.InRange(e.Error.Status, 400, 499);
    }

    [Fact]
    public void RejectsNamesOver255Characters()
    {
        var name = string.Join('/', Enumerable.Repeat(new string('a', 50), 6));
        var e = Assert.Throws<RegistryException>(() => RegistryPath.Parse(name + "/manifests/latest", null));
        Assert.Equal("NAME_INVALID", e.Error.Code);
    }

    [Fact]
    public void TagOf128CharactersIsValidAnd129IsNot()
    {
        Assert.Equal(RouteKind.Manifest, RegistryPath.Parse("a/manifests/" + new string('t', 128), null).Kind);
        Assert.Throws<RegistryException>(() => RegistryPath.Parse("a/manifests/" + new string('t', 129), null));
    }
}

public sealed class ByteRangeTests
{
    [Theory]
    [InlineData(null, 100, RangeOutcome.Whole, 0, 99)]
    [InlineData("bytes=0-9", 100, RangeOutcome.Partial, 0, 9)]
    [InlineData("bytes=10-", 100, RangeOutcome.Partial, 10, 99)]
    [InlineData("bytes=90-200", 100, RangeOutcome.Partial, 90, 99)]
    [InlineData("bytes=-10", 100, RangeOutcome.Partial, 90, 99)]
    [InlineData("bytes=-1000", 100, RangeOutcome.Partial, 0, 99)]
    [InlineData("bytes=99-99", 100, RangeOutcome.Partial, 99, 99)]
    [InlineData("bytes=100-", 100, RangeOutcome.NotSatisfiable, 0, -1)]
    [InlineData("bytes=100-200", 100, RangeOutcome.NotSatisfiable, 0, -1)]
    [InlineData("bytes=-0", 100, RangeOutcome.NotSatisfiable, 0, -1)]
    [InlineData("bytes=5-2", 100, RangeOutcome.NotSatisfiable, 0, -1)]
    [InlineData("bytes=abc", 100, RangeOutcome.NotSatisfiable, 0, -1)]
    [InlineData("bytes=1-x", 100, RangeOutcome.NotSatisfiable, 0, -1)]
    [InlineData("bytes=-", 100, RangeOutcome.NotSatisfiable, 0, -1)]
    [InlineData("bytes=99999999999999999999-", 100, RangeOutcome.NotSatisfiable, 0, -1)]
    [InlineData("bytes=+5-10", 100, RangeOutcome.NotSatisfiable, 0, -1)]
    [InlineData("bytes=0-1,5-6", 100, RangeOutcome.Whole, 0, 99)]
    [InlineData("items=0-1", 100, RangeOutcome.Whole, 0, 99)]
    public void ParsesSingleByteRanges(string? header, long size, RangeOutcome outcome, long start, long end)
    {
        var r = ByteRange.Parse(header, size);
        Assert.Equal(outcome, r.Outcome);
        if (outcome != RangeOutcome.NotSatisfiable)
        {
            Assert.Equal(start, r.Start);
            Assert.Equal(end, r.End);
        }
    }
}

public sealed class AuthChallengeTests
{
    [Fact]
    public void ParsesDockerHubBearerChallenge()
    {
        var c = AuthChallenge.ParseOrNull("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/alpine:pull\"");
        Assert.NotNull(c);
        Assert.Equal("Bearer", c.Scheme);
        Assert.Equal("https://auth.docker.io/token", c["realm"]);
        Assert.Equal("registry.docker.io", c["service"]);
        Assert.Equal("repository:library/alpine:pull", c["scope"]);
    }

    [Fact]
    public void ParsesBasicWithUnquotedAndEscapedValues()
    {
        var c = AuthChallenge.ParseOrNull("Basic realm=\"say \\\"hi\\\"\", charset=UTF-8");
        Assert.NotNull(c);
        Assert.Equal("Basic", c.Scheme);
        Assert.Equal("say \"hi\"", c["realm"]);
        Assert.Equal("UTF-8", c["charset"]);
    }

    [Fact]
    public void ScopeWithSeveralActionsKeepsCommas()
    {
        var c = AuthChallenge.ParseOrNull("Bearer realm=\"http://127.0.0.1:1/token\",service=\"s\",scope=\"repository:a/b:pull,push\"");
        Assert.Equal("repository:a/b:pull,push", c!["scope"]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("realm=x")]
    [InlineData("Bearer realm=\"unterminated")]
    public void RejectsNonChallenges(string? header) => Assert.Null(AuthChallenge.ParseOrNull(header));
}

public sealed class MediaTypeTests
{
    [Theory]
    [InlineData(new string[0], MediaTypes.OciIndex, true)]
    [InlineData(new[] { "*/*" }, MediaTypes.OciIndex, true)]
    [InlineData(new[] { MediaTypes.DockerManifest }, MediaTypes.OciIndex, false)]
    [InlineData(new[] { MediaTypes.DockerManifest + ", " + MediaTypes.DockerManifestList }, MediaTypes.DockerManifestList, true)]
    [InlineData(new[] { MediaTypes.DockerManifest, MediaTypes.OciIndex + "; q=0.5" }, MediaTypes.OciIndex, true)]
    [InlineData(new[] { "text/html" }, MediaTypes.DockerManifest, true)]
    public void AcceptDecidesWhatMayBeServed(string[] accept, string type, bool accepted) =>
        Assert.Equal(accepted, MediaTypes.Accepts(accept, type));
}

public sealed class OptionsTests
{
    [Fact]
    public void DefaultsIncludeBuiltInRegistries()
    {
        var o = new MirrorOptions();
        Assert.Empty(o.Normalize());
        Assert.Equal("https://registry-1.docker.io", o.Upstreams["docker.io"].Url);
        Assert.NotNull(o.FindUpstreamOrNull("ghcr.io"));
        Assert.Null(o.FindUpstreamOrNull("evil.example.com"));
    }

    [Fact]
    public void DisabledBuiltInIsNotOnTheAllowList()
    {
        var o = new MirrorOptions();
        o.Upstreams["quay.io"] = new UpstreamOptions { Enabled = false };
        Assert.Empty(o.Normalize());
        Assert.Null(o.FindUpstreamOrNull("quay.io"));
    }

    [Fact]
    public void ProblemsNameTheSetting()
    {
        var o = new MirrorOptions { TagTtl = TimeSpan.Zero };
        o.Upstreams["docker.io"] = new UpstreamOptions { Url = "ftp://x" };
        o.Storage.Kind = "Tape";
        var problems = o.Normalize();
        Assert.Contains(problems, p => p.StartsWith("Mirror:Upstreams:docker.io:Url"));
        Assert.Contains(problems, p => p.StartsWith("Mirror:TagTtl"));
        Assert.Contains(problems, p => p.StartsWith("Mirror:Storage:Kind"));
    }
}

public sealed class ManifestReferenceTests
{
    [Fact]
    public void FindsEveryReferencedDigest()
    {
        var a = Digest.Sha256Of("a"u8);
        var b = Digest.Sha256Of("b"u8);
        var c = Digest.Sha256Of("c"u8);
        var json = $$"""{"schemaVersion":2,"config":{"digest":"{{a}}"},"layers":[{"digest":"{{b}}"},{"digest":"bogus"}],"manifests":[{"digest":"{{c}}"}]}""";
        var found = Mirror.Grains.Layers.RepositoryAccess.ReferencedDigests(System.Text.Encoding.UTF8.GetBytes(json)).ToList();
        Assert.Equal([a, b, c], found);
    }

    [Fact]
    public void MalformedManifestReferencesNothing() =>
        Assert.Empty(Mirror.Grains.Layers.RepositoryAccess.ReferencedDigests("{not json"u8.ToArray()));
}

public sealed class LinkRewriteTests
{
    [Theory]
    [InlineData("alpine", null, "</v2/library/alpine/tags/list?last=b&n=2>; rel=\"next\"", "</v2/alpine/tags/list?last=b&n=2>; rel=\"next\"")]
    [InlineData("ghcr.io/org/app", null, "</v2/org/app/tags/list?last=b&n=2>; rel=\"next\"", "</v2/ghcr.io/org/app/tags/list?last=b&n=2>; rel=\"next\"")]
    [InlineData("org/app", "ghcr.io", "</v2/org/app/tags/list?last=b&n=2>; rel=\"next\"", "</v2/org/app/tags/list?last=b&n=2&ns=ghcr.io>; rel=\"next\"")]
    [InlineData("org/app", null, "<https://elsewhere/x>; rel=\"next\"", "<https://elsewhere/x>; rel=\"next\"")]
    public void NextPageLinkKeepsTheClientsNaming(string clientName, string? ns, string upstream, string expected)
    {
        var route = RegistryPath.Parse(clientName + "/tags/list", ns);
        Assert.Equal(expected, Mirror.Frontend.Endpoints.RegistryEndpoints.RewriteLink(upstream, route));
    }
}

public sealed class DigestOfTests
{
    [Fact]
    public void ComputesBothSupportedAlgorithms()
    {
        Assert.Equal(Digest.Sha256Of("abc"u8), Digest.Of("sha256", "abc"u8));
        Assert.Equal("sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            Digest.Of("sha512", "abc"u8).ToString());
        Assert.Throws<ArgumentException>(() => Digest.Of("md5", "abc"u8));
    }
}

public sealed class SiloErrorMappingTests
{
    [Theory]
    [InlineData(404, "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"m\",\"detail\":\"d\"}]}", "BLOB_UNKNOWN", 404)]
    [InlineData(429, "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"m\"}]}", "TOOMANYREQUESTS", 429)]
    [InlineData(416, "{\"errors\":[{\"code\":\"RANGE_INVALID\",\"message\":\"m\"}]}", "RANGE_INVALID", 416)]
    [InlineData(503, "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"m\"}]}", "UNAVAILABLE", 503)]
    [InlineData(503, "not json", "UNAVAILABLE", 503)]
    [InlineData(500, "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"internal error\"}]}", "UNKNOWN", 502)]
    [InlineData(500, "", "UNKNOWN", 502)]
    public async Task SiloAnswersBecomeTheClientsErrorAndNeverA500(int status, string body, string code, int clientStatus)
    {
        using var response = new HttpResponseMessage((System.Net.HttpStatusCode)status) { Content = new StringContent(body) };
        var e = await Mirror.Frontend.Cluster.SiloClient.ToErrorAsync(response, CancellationToken.None);
        Assert.Equal(code, e.Error.Code);
        Assert.Equal(clientStatus, e.Error.Status);
    }
}
