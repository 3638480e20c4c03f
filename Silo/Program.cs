using Mirror.Silo.Cluster;
using Mirror.Silo.Hosting;

// `Silo migrate` creates or upgrades the PostgreSQL schema and exits (the Helm pre-upgrade hook runs it).
if (args.Length > 0 && args[0] == "migrate")
{
    var config = new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: true).AddMirrorConfigFile().AddEnvironmentVariables()
        .AddCommandLine(args[1..]).Build();
    var settings = MirrorConfiguration.LoadOrReport(config, Console.Error);
    if (settings is null) return 2;
    if (settings.Cluster.ConnectionString is null)
    {
        Console.Error.WriteLine("migrate: Mirror:Cluster:ConnectionString is required.");
        return 2;
    }
    try
    {
        await ClusterSchema.MigrateAsync(settings.Cluster.ConnectionString, Console.Out, CancellationToken.None);
        return 0;
    }
    catch (Exception e) when (e is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
    {
        Console.Error.WriteLine($"migrate: failed: {e.Message}");
        return 1;
    }
}

var builder = WebApplication.CreateBuilder(args);
builder.AddMirrorConfigFile();
var options = MirrorConfiguration.LoadOrReport(builder.Configuration, Console.Error);
if (options is null) return 2;
if (options.Cluster.ConnectionString is null)
{
    Console.Error.WriteLine("silo: Mirror:Cluster:ConnectionString is required (without it, run the Frontend alone: embedded mode).");
    return 2;
}

builder.AddMirrorSilo(options);

var app = builder.Build();
app.UseMiddleware<FaultBarrier>();
app.MapOpsEndpoints();
app.MapSiloEndpoints();
app.Run();
return 0;
