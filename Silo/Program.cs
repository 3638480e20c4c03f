using Mirror.Silo.Hosting;

// Cluster silo host: filled in by the cluster work. Embedded mode hosts the grains inside the Frontend.
var builder = WebApplication.CreateBuilder(args);
builder.AddMirrorConfigFile();
var options = MirrorConfiguration.LoadOrReport(builder.Configuration, Console.Error);
if (options is null) return 2;
Console.Error.WriteLine("silo: cluster mode is not available yet; run the Frontend for the embedded mirror.");
return 3;
