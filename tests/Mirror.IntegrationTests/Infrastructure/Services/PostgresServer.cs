using Npgsql;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// A private PostgreSQL cluster: <c>initdb</c> into a fresh directory and <c>pg_ctl start</c> on a free port of
/// 127.0.0.1, with trust authentication and <c>fsync=off</c>. PostgreSQL refuses to run as root, so every command
/// runs as the <c>postgres</c> user through <c>runuser</c>. Tests may <see cref="StopAsync"/> and
/// <see cref="StartAsync"/> it again on the same data directory to check that the product survives an outage.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string OsUser = "postgres";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly TempDir _dir;
    private readonly string _bin;

    private PostgresServer(TempDir dir, string bin, int port)
    {
        _dir = dir;
        _bin = bin;
        Port = port;
    }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Name of the database created for the test.</summary>
    public string Database => "mirror";

    /// <summary>An Npgsql connection string for <see cref="Database"/>, a database no one else has used.</summary>
    public string ConnectionString => ConnectionStringFor(Database);

    /// <summary>The server's log file.</summary>
    public string LogPath => _dir.Combine("postgres.log");

    /// <summary>True while the server is running (between a start and a stop).</summary>
    public bool IsRunning { get; private set; }

    private string DataDir => _dir.Combine("data");
    private string SocketDir => _dir.Combine("sock");

    /// <summary>Initialises a cluster, starts it and creates <see cref="Database"/>.</summary>
    public static async Task<PostgresServer> CreateAsync()
    {
        var dir = new TempDir("pg");
        var server = new PostgresServer(dir, FindBinDir(), Ports.GetFree());
        try
        {
            Directory.CreateDirectory(server.SocketDir);
            await RunCheckedAsync(HostTools.Find("chown"), ["-R", $"{OsUser}:{OsUser}", dir.Path]);
            await server.RunAsPostgresAsync("initdb", "-D", server.DataDir, "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--no-locale", "--no-sync");
            await server.StartAsync();
            await using (var connection = new NpgsqlConnection(server.AdminConnectionString))
            {
                await connection.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE {server.Database}", connection);
                await create.ExecuteNonQueryAsync();
            }
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A connection string for another database on this server (create it first, e.g. with <see cref="CreateDatabaseAsync"/>).</summary>
    public string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = database,
        Timeout = 5,
    }.ConnectionString;

    /// <summary>For the fixture's own administrative connections: no pool that could hold a connection across a restart.</summary>
    private string AdminConnectionString => new NpgsqlConnectionStringBuilder(ConnectionStringFor("postgres")) { Pooling = false }.ConnectionString;

    /// <summary>Creates a fresh database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name.Replace("\"", "\"\"")}\"", connection);
        await create.ExecuteNonQueryAsync();
        return ConnectionStringFor(name);
    }

    /// <summary>Starts the server on its existing data directory and port; returns once it accepts connections.</summary>
    public async Task StartAsync()
    {
        await RunAsPostgresAsync("pg_ctl", "start", "-D", DataDir, "-l", LogPath, "-w", "-t", "60",
            "-o", $"-c listen_addresses=127.0.0.1 -p {Port} -k {SocketDir} -c fsync=off");
        IsRunning = true;
    }

    /// <summary>Stops the server with <c>pg_ctl stop -m fast</c> (active connections are terminated).</summary>
    public async Task StopAsync()
    {
        await RunAsPostgresAsync("pg_ctl", "stop", "-D", DataDir, "-m", "fast", "-w", "-t", "60");
        IsRunning = false;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (File.Exists(Path.Combine(DataDir, "postmaster.pid")))
        {
            try { await RunAsPostgresAsync("pg_ctl", "stop", "-D", DataDir, "-m", "immediate", "-w", "-t", "30"); }
            catch (InvalidOperationException) { /* already stopped */ }
        }
        IsRunning = false;
        _dir.Dispose();
    }

    private Task RunAsPostgresAsync(string tool, params string[] args) =>
        RunCheckedAsync(HostTools.Find("runuser"), ["-u", OsUser, "--", Path.Combine(_bin, tool), .. args]);

    private static async Task RunCheckedAsync(string fileName, IEnumerable<string> args)
    {
        var argList = args.ToList();
        // The postgres user cannot read root's working directory on some machines; run from /.
        var (exitCode, output) = await ChildProcess.RunAsync(fileName, argList, CommandTimeout, workingDirectory: "/");
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', argList)} exited with {exitCode}:\n{output}");
        }
    }

    /// <summary>The newest /usr/lib/postgresql/N/bin (not /usr/local/bin, which may hold wrappers on some machines).</summary>
    private static string FindBinDir()
    {
        const string root = "/usr/lib/postgresql";
        var bin = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), out var v) ? v : -1))
                .Where(d => File.Exists(Path.Combine(d.Dir, "bin", "pg_ctl")) && File.Exists(Path.Combine(d.Dir, "bin", "initdb")))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Dir, "bin"))
                .FirstOrDefault()
            : null;
        return bin ?? throw new FileNotFoundException($"no initdb/pg_ctl under {root}/*/bin; run scripts/install-deps.sh");
    }
}
