using Mirror.IntegrationTests.Infrastructure;
using Xunit;

namespace Mirror.IntegrationTests.Embedded;

/// <summary>Bad configuration stops start-up with a message that names the setting.</summary>
public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("--Mirror:TagTtl=banana", "Mirror:TagTtl")]
    [InlineData("--Mirror:TagTtl=-00:01:00", "Mirror:TagTtl")]
    [InlineData("--Mirror:Upstreams:docker.io:Url=ftp://x", "Mirror:Upstreams:docker.io:Url")]
    [InlineData("--Mirror:Storage:Kind=Tape", "Mirror:Storage:Kind")]
    [InlineData("--Mirror:Upstreams:docker.io:Username=u", "Mirror:Upstreams:docker.io:Password")]
    public async Task InvalidSettingStopsStartupNamingIt(string argument, string key)
    {
        using var dir = new TempDir("badconfig");
        var (exit, output) = await ChildProcess.RunAsync("dotnet",
            [MirrorProcess.AssemblyPath("Frontend"), "--urls", $"http://127.0.0.1:{Ports.GetFree()}", $"--Mirror:CacheDirectory={dir.Combine("c")}", argument],
            TimeSpan.FromSeconds(60));
        Assert.Equal(2, exit);
        Assert.Contains(key, output);
        Assert.DoesNotContain("   at ", output); // no stack trace
    }
}
