using Npgsql;

namespace Mirror.Silo.Cluster;

/// <summary>
/// The cluster's PostgreSQL schema, as an ordered list of migrations. <see cref="MigrateAsync"/> applies the missing
/// ones under an advisory lock, each in its own transaction, so it is safe to run twice or from several pods at once.
/// </summary>
public static class ClusterSchema
{
    /// <summary>Advisory lock key taken while migrating ("mirror" in ASCII).</summary>
    private const long MigrationLockKey = 0x6d6972726f72;

    /// <summary>The newest schema version this build knows.</summary>
    public static int LatestVersion => Migrations[^1].Version;

    private static readonly (int Version, string Description, string Sql)[] Migrations =
    [
        (1, "membership, leases, tags, manifests, blob index, uploads", """
            create table mirror_silos (
                silo_id      text primary key,
                address      text not null,
                contract     int not null,
                status       text not null default 'active',
                started_at   timestamptz not null default now(),
                heartbeat_at timestamptz not null default now()
            );
            create table mirror_leases (
                digest        text primary key,
                owner_id      text not null,
                owner_address text not null,
                epoch         bigint not null,
                expires_at    timestamptz not null
            );
            create table mirror_tags (
                registry     text not null,
                repository   text not null,
                tag          text not null,
                digest       text not null,
                media_type   text not null,
                validated_at timestamptz not null,
                primary key (registry, repository, tag)
            );
            create table mirror_manifests (
                digest     text primary key,
                media_type text not null,
                content    bytea not null,
                created_at timestamptz not null default now()
            );
            create table mirror_blobs (
                digest         text primary key,
                size           bigint not null,
                committed_at   timestamptz not null default now(),
                last_access_at timestamptz not null default now()
            );
            create table mirror_uploads (
                upload_id  text primary key,
                object_key text not null,
                digest     text not null,
                owner_id   text not null,
                started_at timestamptz not null default now()
            );
            """),
    ];

    /// <summary>Brings the schema to <see cref="LatestVersion"/>; returns how many migrations were applied.</summary>
    public static async Task<int> MigrateAsync(string connectionString, TextWriter log, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("select pg_advisory_lock(@k)", connection))
        {
            lockCommand.Parameters.AddWithValue("k", MigrationLockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }
        try
        {
            await using (var create = new NpgsqlCommand("""
                create table if not exists mirror_schema_version (
                    version     int primary key,
                    description text not null,
                    applied_at  timestamptz not null default now())
                """, connection))
            {
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
            var applied = new HashSet<int>();
            await using (var read = new NpgsqlCommand("select version from mirror_schema_version", connection))
            await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken)) applied.Add(reader.GetInt32(0));
            }
            if (applied.Count > 0 && applied.Max() > LatestVersion)
                throw new InvalidOperationException($"database schema is at version {applied.Max()}, newer than this build's {LatestVersion}; refusing to touch it");

            var count = 0;
            foreach (var (version, description, sql) in Migrations)
            {
                if (applied.Contains(version)) continue;
                await using var tx = await connection.BeginTransactionAsync(cancellationToken);
                await using (var apply = new NpgsqlCommand(sql, connection, tx)) await apply.ExecuteNonQueryAsync(cancellationToken);
                await using (var record = new NpgsqlCommand("insert into mirror_schema_version (version, description) values (@v, @d)", connection, tx))
                {
                    record.Parameters.AddWithValue("v", version);
                    record.Parameters.AddWithValue("d", description);
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }
                await tx.CommitAsync(cancellationToken);
                log.WriteLine($"migrate: applied version {version} ({description})");
                count++;
            }
            log.WriteLine($"migrate: schema at version {LatestVersion} ({count} applied)");
            return count;
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("select pg_advisory_unlock(@k)", connection);
            unlock.Parameters.AddWithValue("k", MigrationLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>The schema version in the database (0 when none), to refuse starting against an old schema.</summary>
    public static async Task<int> CurrentVersionAsync(NpgsqlDataSource db, CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("select coalesce(max(version), 0) from mirror_schema_version");
        try
        {
            return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0;
        }
    }
}
