-- One database per service: services never share a database (docs/architecture.md §1).
CREATE DATABASE tanhui_accounts;
CREATE DATABASE tanhui_verification;
CREATE DATABASE tanhui_credits;
