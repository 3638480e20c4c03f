using System.Security.Cryptography;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// A real upstream registry: Debian's <c>docker-registry</c> (CNCF distribution 2.8) as a child process on
/// 127.0.0.1, with a filesystem store in a fresh <see cref="TempDir"/>, deletes enabled, and either no
/// authentication or Docker-Hub-like token authentication backed by an in-process <see cref="TokenServer"/>.
/// </summary>
public sealed class UpstreamRegistry : IAsyncDisposable
{
    private const string Binary = "/usr/bin/docker-registry";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly TempDir _dir;
    private readonly ChildProcess _process;

    private UpstreamRegistry(TempDir dir, ChildProcess process, int port, TokenServer? tokenServer)
    {
        _dir = dir;
        _process = process;
        HostPort = $"127.0.0.1:{port}";
        Url = new Uri($"http://{HostPort}/");
        TokenServer = tokenServer;
    }

    /// <summary>Base URL, http://127.0.0.1:PORT/.</summary>
    public Uri Url { get; }

    /// <summary>"127.0.0.1:PORT", as clients' registry settings want it.</summary>
    public string HostPort { get; }

    /// <summary>The token server when the registry uses token authentication, else null.</summary>
    public TokenServer? TokenServer { get; }

    /// <summary>The user allowed to pull and push under token authentication, else null.</summary>
    public string? Username => TokenServer?.Username;

    /// <summary>That user's password, else null.</summary>
    public string? Password => TokenServer?.Password;

    /// <summary>Directory of the registry's filesystem store.</summary>
    public string StorageDirectory => _dir.Combine("storage");

    /// <summary>The registry process's log file.</summary>
    public string LogPath => _process.LogPath;

    /// <summary>The registry's output so far, for failure messages.</summary>
    public string Log => _process.Output;

    /// <summary>Starts a registry that needs no authentication.</summary>
    public static Task<UpstreamRegistry> StartAnonymousAsync() => StartAsync(tokenAuth: false, "", "", false);

    /// <summary>
    /// Starts a registry with token authentication; <paramref name="username"/> may pull and push.
    /// With <paramref name="anonymousPull"/> anonymous clients may get pull tokens, as on Docker Hub.
    /// </summary>
    public static Task<UpstreamRegistry> StartWithTokenAuthAsync(string username = "mirror-test", string password = "s3cret-Pa55",
        bool anonymousPull = false) => StartAsync(tokenAuth: true, username, password, anonymousPull);

    private static async Task<UpstreamRegistry> StartAsync(bool tokenAuth, string username, string password, bool anonymousPull)
    {
        var dir = new TempDir("upstream");
        TokenServer? tokenServer = null;
        try
        {
            if (tokenAuth) tokenServer = await TokenServer.StartAsync(dir.Path, username, password, anonymousPull);
            // A port from Ports.GetFree can be taken before the registry binds it; try a few.
            for (var attempt = 1; ; attempt++)
            {
                var port = Ports.GetFree();
                var config = dir.Combine("config.yml");
                await File.WriteAllTextAsync(config, Config(port, dir.Combine("storage"), tokenServer));
                var process = ChildProcess.Start(Binary, ["serve", config], dir.Combine($"registry-{attempt}.log"), dir.Path,
                    new Dictionary<string, string?> { ["AWS_CA_BUNDLE"] = null });
                var registry = new UpstreamRegistry(dir, process, port, tokenServer);
                try
                {
                    await WaitUntilAnsweringAsync(process, new Uri(registry.Url, "v2/"));
                    return registry;
                }
                catch (InvalidOperationException) when (attempt < 3 && process.HasExited && process.Output.Contains("address already in use"))
                {
                    await process.DisposeAsync();
                }
                catch
                {
                    await process.DisposeAsync();
                    throw;
                }
            }
        }
        catch
        {
            if (tokenServer is not null) await tokenServer.DisposeAsync();
            dir.Dispose();
            throw;
        }
    }

    private static async Task WaitUntilAnsweringAsync(ChildProcess process, Uri ping)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await process.WaitUntilAsync(async () =>
        {
            using var response = await client.GetAsync(ping);
            return (int)response.StatusCode < 500; // 401 under token auth is an answer too
        }, StartTimeout, $"docker-registry at {ping}");
    }

    private static string Config(int port, string storage, TokenServer? tokenServer)
    {
        var auth = tokenServer is null ? "" : $"""
            auth:
              token:
                realm: "{tokenServer.Realm}"
                service: "{tokenServer.Service}"
                issuer: "{tokenServer.Issuer}"
                rootcertbundle: "{tokenServer.CertificatePath}"
            """;
        return $"""
            version: 0.1
            log:
              level: info
              formatter: text
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: "{storage}"
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:{port}
              secret: "{Convert.ToHexString(RandomNumberGenerator.GetBytes(16))}"
            {auth}

            """;
    }

    /// <summary>
    /// An <see cref="HttpClient"/> with <see cref="Url"/> as base address that authenticates as <see cref="Username"/>
    /// when the registry uses tokens (see <see cref="RegistryAuthHandler"/>). Redirects are not followed.
    /// </summary>
    public HttpClient CreateAuthorizedClient() => new(new RegistryAuthHandler(Username, Password))
    {
        BaseAddress = Url,
        Timeout = TimeSpan.FromMinutes(10), // large pushes go through this client
    };

    /// <summary>An <see cref="HttpClient"/> with <see cref="Url"/> as base address and no credentials.</summary>
    public HttpClient CreateAnonymousClient() => new() { BaseAddress = Url };

    /// <summary>Deletes the manifest <paramref name="digest"/> from <paramref name="repository"/>, as when an image disappears upstream.</summary>
    public async Task DeleteManifestAsync(string repository, string digest)
    {
        using var client = CreateAuthorizedClient();
        using var response = await client.DeleteAsync($"v2/{repository}/manifests/{digest}");
        if (response.StatusCode != System.Net.HttpStatusCode.Accepted)
        {
            throw new InvalidOperationException($"delete {repository}@{digest}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        if (TokenServer is not null) await TokenServer.DisposeAsync();
        _dir.Dispose();
    }
}
