using SelfAlign.Cli;

return await CliApp.RunAsync(args);
