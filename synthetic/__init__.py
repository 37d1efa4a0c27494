"""Stand-ins for what the recipe cannot download in tests, the demo and the benchmark: an IEMOCAP-format corpus of
generated speech (``synthetic.corpus``) and randomly initialised backbones saved as Hugging Face folders
(``synthetic.backbones``). Nothing in the method (``custom_modules``) imports them."""
