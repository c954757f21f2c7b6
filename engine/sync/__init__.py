"""Cloud Sync: Hugging Face Hub groups as single commits, SSH hosts (archives, SFTP with resume
and checksums, safe extraction, host keys), remote training jobs."""
