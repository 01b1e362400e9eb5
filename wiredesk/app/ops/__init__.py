"""Operations: replay and backfill, dead letters, and the read side in the terminal."""
