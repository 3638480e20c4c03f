using Mirror.Frontend;
using Mirror.Frontend.Endpoints;
using Mirror.Silo.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddMirrorConfigFile();
var options = MirrorConfiguration.LoadOrReport(builder.Configuration, Console.Error);
if (options is null) return 2;

builder.AddMirrorFrontend(options);

var app = builder.Build();
app.UseMiddleware<FaultBarrier>();
app.MapOpsEndpoints();
app.MapRegistryEndpoints();
app.Run();
return 0;
