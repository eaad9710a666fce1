"""``nightowl eval``: the paper's Table 1 on a fixed synthetic test set, with classical baselines.

One module per concern: the test set (``testset``), the methods compared (``methods``), reading
plates as strings with our recogniser (``reading``) and with Tesseract (``ocr``), scoring a read
against the truth (``scoring``), the run itself (``runner``, with the one PSNR and SSIM of
service/frames/quality.py), and the outputs (``report``, ``pictures``). Nothing here imports
torch.
"""
