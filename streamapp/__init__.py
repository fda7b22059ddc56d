"""wordstream's stream side: the faust worker, its archive sink and the `wordstream` CLI."""
