using Tenzro.Node.Cli;

return await CliApp.RunAsync(args);
