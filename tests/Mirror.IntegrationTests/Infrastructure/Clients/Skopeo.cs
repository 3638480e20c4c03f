namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// skopeo (Debian's 1.9) with a private registries.conf (skopeo ignores <c>CONTAINERS_REGISTRIES_CONF</c>, so it is
/// passed with <c>--registries-conf</c>) and signature policy. Copies go to <c>dir:</c> layouts in a fresh directory.
/// </summary>
public sealed class Skopeo : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    private readonly TempDir _dir;
    private int _copies;

    private Skopeo(TempDir dir) => _dir = dir;

    /// <summary>The registries.conf in use.</summary>
    public string RegistriesConfPath => _dir.Combine("registries.conf");

    /// <summary>Creates the configuration for the given mirrors.</summary>
    public static Skopeo Create(IEnumerable<RegistryMirror> mirrors)
    {
        var dir = new TempDir("skopeo");
        Directory.CreateDirectory(dir.Combine("tmp"));
        RegistryMirror.WriteRegistriesConf(dir.Combine("registries.conf"), mirrors);
        RegistryMirror.WritePermissivePolicy(dir.Combine("policy.json"));
        return new Skopeo(dir);
    }

    /// <summary>
    /// <c>skopeo copy docker://<paramref name="reference"/> dir:OUT</c> through the mirrors of registries.conf
    /// (e.g. <c>docker.io/library/busybox:1.36</c>). OUT is a fresh directory, returned with the result.
    /// </summary>
    public Task<(int ExitCode, string Output, string Directory)> CopyAsync(string reference) => CopyCoreAsync(reference, []);

    /// <summary>
    /// <c>skopeo copy --src-tls-verify=false docker://<paramref name="reference"/> dir:OUT</c>, addressing the mirror
    /// directly, e.g. <c>127.0.0.1:5000/ghcr.io/org/app:1.0</c> (the path-prefix form).
    /// </summary>
    public Task<(int ExitCode, string Output, string Directory)> CopyDirectAsync(string reference) =>
        CopyCoreAsync(reference, ["--src-tls-verify=false"]);

    /// <summary>
    /// <c>skopeo inspect --no-tags [--raw] docker://<paramref name="reference"/></c>; TLS verification is off for
    /// references on 127.0.0.1/localhost, other references go through the mirrors of registries.conf. (Tags are not
    /// listed because skopeo lists them from the primary location, never from a mirror.)
    /// </summary>
    public Task<(int ExitCode, string Output)> InspectAsync(string reference, bool raw = false)
    {
        List<string> args = ["inspect", "--no-tags"];
        if (raw) args.Add("--raw");
        if (reference.StartsWith("127.0.0.1:", StringComparison.Ordinal) || reference.StartsWith("localhost:", StringComparison.Ordinal))
        {
            args.Add("--tls-verify=false");
        }
        args.Add($"docker://{reference}");
        return SkopeoAsync([.. args]);
    }

    /// <summary>Runs any skopeo command with this configuration.</summary>
    public Task<(int ExitCode, string Output)> SkopeoAsync(params string[] args) =>
        ChildProcess.RunAsync(HostTools.Find("skopeo"),
            ["--registries-conf", RegistriesConfPath, "--policy", _dir.Combine("policy.json"), .. args],
            CommandTimeout, workingDirectory: _dir.Path,
            environment: new Dictionary<string, string?> { ["TMPDIR"] = _dir.Combine("tmp") });

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<(int ExitCode, string Output, string Directory)> CopyCoreAsync(string reference, string[] options)
    {
        var output = _dir.Combine($"copy-{Interlocked.Increment(ref _copies)}");
        var (exitCode, text) = await SkopeoAsync(["copy", .. options, $"docker://{reference}", $"dir:{output}"]);
        return (exitCode, text, output);
    }
}
