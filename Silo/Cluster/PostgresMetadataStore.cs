using Microsoft.Extensions.Logging;
using Mirror.Grains;
using Mirror.Grains.Storage;
using Npgsql;

namespace Mirror.Silo.Cluster;

/// <summary>
/// Manifests and tag answers shared by every silo through PostgreSQL. When PostgreSQL cannot be reached a read is a
/// miss and a write is skipped (both logged): the mirror keeps answering from the upstream instead of failing.
/// </summary>
public sealed partial class PostgresMetadataStore(NpgsqlDataSource db, ILogger<PostgresMetadataStore> logger) : IMetadataStore
{
    /// <inheritdoc />
    public Task<ManifestContent?> GetManifestOrNullAsync(Digest digest, CancellationToken cancellationToken) => Degrade(async () =>
    {
        await using var command = db.CreateCommand("select media_type, content from mirror_manifests where digest = @d");
        command.Parameters.AddWithValue("d", digest.ToString());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var bytes = (byte[])reader.GetValue(1);
        // Re-verify what comes back: a row is only ever served under the digest its bytes hash to.
        return Digest.Of(digest.Algorithm, bytes) == digest ? new ManifestContent(digest, reader.GetString(0), bytes) : null;
    }, (ManifestContent?)null, "read manifest");

    /// <inheritdoc />
    public Task PutManifestAsync(ManifestContent manifest, CancellationToken cancellationToken) => Degrade(async () =>
    {
        await using var command = db.CreateCommand("""
            insert into mirror_manifests (digest, media_type, content) values (@d, @m, @c) on conflict (digest) do nothing
            """);
        command.Parameters.AddWithValue("d", manifest.Digest.ToString());
        command.Parameters.AddWithValue("m", manifest.MediaType);
        command.Parameters.AddWithValue("c", manifest.Bytes.ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }, false, "store manifest");

    /// <inheritdoc />
    public Task<TagRecord?> GetTagOrNullAsync(RepositoryRef repository, string tag, CancellationToken cancellationToken) => Degrade(async () =>
    {
        await using var command = db.CreateCommand("""
            select digest, media_type, validated_at from mirror_tags where registry = @r and repository = @p and tag = @t
            """);
        command.Parameters.AddWithValue("r", repository.Registry);
        command.Parameters.AddWithValue("p", repository.Repository);
        command.Parameters.AddWithValue("t", tag);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken) || !Digest.TryParse(reader.GetString(0), out var d)) return null;
        return new TagRecord(d.Value, reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2));
    }, (TagRecord?)null, "read tag");

    /// <inheritdoc />
    public Task PutTagAsync(RepositoryRef repository, string tag, TagRecord record, CancellationToken cancellationToken) => Degrade(async () =>
    {
        await using var command = db.CreateCommand("""
            insert into mirror_tags (registry, repository, tag, digest, media_type, validated_at) values (@r, @p, @t, @d, @m, @v)
            on conflict (registry, repository, tag) do update
               set digest = excluded.digest, media_type = excluded.media_type, validated_at = excluded.validated_at
            """);
        command.Parameters.AddWithValue("r", repository.Registry);
        command.Parameters.AddWithValue("p", repository.Repository);
        command.Parameters.AddWithValue("t", tag);
        command.Parameters.AddWithValue("d", record.Digest.ToString());
        command.Parameters.AddWithValue("m", record.MediaType);
        command.Parameters.AddWithValue("v", record.ValidatedAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }, false, "store tag");

    /// <inheritdoc />
    public Task DeleteTagAsync(RepositoryRef repository, string tag, CancellationToken cancellationToken) => Degrade(async () =>
    {
        await using var command = db.CreateCommand("delete from mirror_tags where registry = @r and repository = @p and tag = @t");
        command.Parameters.AddWithValue("r", repository.Registry);
        command.Parameters.AddWithValue("p", repository.Repository);
        command.Parameters.AddWithValue("t", tag);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }, false, "delete tag");

    private async Task<T> Degrade<T>(Func<Task<T>> action, T fallback, string what)
    {
        try
        {
            return await action();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            LogDegraded(logger, what, e.Message);
            return fallback;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL unavailable ({What}), answering from the upstream: {Reason}")]
    private static partial void LogDegraded(ILogger logger, string what, string reason);
}

/// <summary>Tracks multipart uploads in PostgreSQL; the janitor aborts those whose owner silo is gone.</summary>
public sealed partial class PostgresUploadTracker(NpgsqlDataSource db, SiloIdentity self, ILogger<PostgresUploadTracker> logger) : IUploadTracker
{
    /// <inheritdoc />
    public async Task TrackAsync(string uploadId, string key, Digest digest, CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("""
            insert into mirror_uploads (upload_id, object_key, digest, owner_id) values (@u, @k, @d, @o) on conflict do nothing
            """);
        command.Parameters.AddWithValue("u", uploadId);
        command.Parameters.AddWithValue("k", key);
        command.Parameters.AddWithValue("d", digest.ToString());
        command.Parameters.AddWithValue("o", self.Id);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task UntrackAsync(string uploadId, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = db.CreateCommand("delete from mirror_uploads where upload_id = @u");
            command.Parameters.AddWithValue("u", uploadId);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            LogUntrackFailed(logger, uploadId, e.Message);
        }
    }

    /// <summary>Uploads whose owner has not heartbeated within the silo timeout (or is gone), oldest first.</summary>
    public async Task<IReadOnlyList<(string UploadId, string Key)>> FindOrphansAsync(CancellationToken cancellationToken)
    {
        await using var command = db.CreateCommand("""
            select u.upload_id, u.object_key from mirror_uploads u
             where not exists (select 1 from mirror_silos s where s.silo_id = u.owner_id and s.heartbeat_at > now() - @timeout)
             order by u.started_at limit 100
            """);
        command.Parameters.AddWithValue("timeout", ClusterTiming.SiloTimeout);
        var list = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) list.Add((reader.GetString(0), reader.GetString(1)));
        return list;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not untrack upload {UploadId}: {Reason}")]
    private static partial void LogUntrackFailed(ILogger logger, string uploadId, string reason);
}
